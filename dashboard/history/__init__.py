"""The History page's feature: the logic over stored runs (summaries.py), its charts (charts.py) and the view
(view.py)."""
from dashboard.history.summaries import export, runs_table

__all__ = ["export", "runs_table"]
