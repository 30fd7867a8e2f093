"""Should B replace A? Checks before a run (checks.py), a stored comparison (stored.py), the decision
(decision.py) with its tables (tables.py) and charts (charts.py), the promotion plan (promotion.py), the report
(report.py), and the views (view.py, form_view.py, decision_view.py). The statistics, the pairing of two runs, the
verdict rule and its words live in dashboard/runs/ (stats.py, pairing.py, verdicts.py, verdict_words.py), which
History uses too."""
from dashboard.compare.decision import ClassSetMismatch, Decision, Side, compare_with_baseline, decide
from dashboard.compare.promotion import PromotionError, PromotionPlan, promotion_plan
from dashboard.compare.report import report_html, report_markdown
from dashboard.compare.stored import StoredComparison, load_comparison, stored_truth

__all__ = ["ClassSetMismatch", "Decision", "PromotionError", "PromotionPlan", "Side", "StoredComparison",
           "compare_with_baseline", "decide", "load_comparison", "promotion_plan", "report_html", "report_markdown",
           "stored_truth"]
