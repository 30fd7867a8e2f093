"""How well a run did against ground truth, and one image looked at closely: metrics.py (pure functions over a result
frame), charts.py (Altair), view.py (the evaluation's Streamlit view), truth_view.py (ground truth on the forms),
occlusion.py (where the model looked: an occlusion map through the serving API), detail.py and detail_view.py (the
image detail view). Imports no other feature; classify/ and compare/ use it."""
from dashboard.evaluate.detail import DetailImage, Queue, SideView
from dashboard.evaluate.metrics import AccuracySummary, accuracy_summary, confusion_matrix, per_class_metrics
from dashboard.evaluate.occlusion import OcclusionError, OcclusionMap, occlusion_map

__all__ = ["AccuracySummary", "DetailImage", "OcclusionError", "OcclusionMap", "Queue", "SideView",
           "accuracy_summary", "confusion_matrix", "occlusion_map", "per_class_metrics"]
