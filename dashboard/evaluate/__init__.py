"""How well a run did against ground truth: metrics.py (pure functions over a result frame), charts.py
(Altair), view.py (the Streamlit view). Imports no other feature; classify/ and compare/ use it."""
from dashboard.evaluate.metrics import AccuracySummary, accuracy_summary, confusion_matrix, per_class_metrics

__all__ = ["AccuracySummary", "accuracy_summary", "confusion_matrix", "per_class_metrics"]
