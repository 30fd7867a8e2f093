"""The Classify page's feature: the form (form_view.py), one stored run's view (view.py) and its results
tables as shown (display.py)."""
from dashboard.classify.display import column_order, for_display

__all__ = ["column_order", "for_display"]
