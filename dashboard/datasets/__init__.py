"""The Datasets page's feature: named, versioned image sets with their ground truth (client.store.datasets), their
tables (listing.py) and the page's view (view.py)."""
from dashboard.datasets.listing import comparable_runs, datasets_frame, runs_frame, versions_frame

__all__ = ["comparable_runs", "datasets_frame", "runs_frame", "versions_frame"]
