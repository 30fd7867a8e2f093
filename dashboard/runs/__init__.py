"""Runs that outlive the page: the RunManager (manager.py) and one side of a run (side.py), thumbnails made
off the critical path (thumbnails.py, thumbnail_jpeg.py), the request inspector (inspector.py) and a stored
classify run loaded back (results.py)."""
from dashboard.runs.inspector import Inspector
from dashboard.runs.manager import ItemsUnavailable, Progress, RetryUnavailable, RunManager
from dashboard.runs.results import StoredRun, label_moved_note, load_stored_run, run_query_params, thumbnail_uris
from dashboard.runs.thumbnail_jpeg import thumbnail_jpeg

__all__ = ["Inspector", "ItemsUnavailable", "Progress", "RetryUnavailable", "RunManager", "StoredRun",
           "label_moved_note", "load_stored_run", "run_query_params", "thumbnail_jpeg", "thumbnail_uris"]
