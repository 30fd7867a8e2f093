"""Runs that outlive the page: the RunManager (manager.py) and one side of a run (side.py), who may act on a run
(ownership.py, visitor.py), the leases that hold running runs (leases.py), uploads kept for retries and reuse
(uploads.py), thumbnails made off the critical path (thumbnails.py, thumbnail_jpeg.py), the request inspector
(inspector.py), a stored classify run loaded back (results.py), a comparison's latency probe (latency_probe.py), and
what Compare and History share to judge two runs: the statistics (stats.py), the pairing (pairing.py), the verdict
rule (verdicts.py) and its words (verdict_words.py)."""
from dashboard.runs.inspector import Inspector
from dashboard.runs.latency_probe import LatencyProbe
from dashboard.runs.leases import LeaseKeeper
from dashboard.runs.manager import ItemsUnavailable, Progress, RetryUnavailable, RunManager
from dashboard.runs.ownership import Actor, NotAllowed
from dashboard.runs.results import StoredRun, label_moved_note, load_stored_run, run_query_params, thumbnail_uris
from dashboard.runs.thumbnail_jpeg import thumbnail_jpeg
from dashboard.runs.verdict_words import Verdict
from dashboard.runs.verdicts import comparison_verdict
from dashboard.runs.visitor import VisitorManager

__all__ = ["Actor", "Inspector", "ItemsUnavailable", "LatencyProbe", "LeaseKeeper", "NotAllowed", "Progress",
           "RetryUnavailable", "RunManager", "StoredRun", "Verdict", "VisitorManager", "comparison_verdict",
           "label_moved_note", "load_stored_run", "run_query_params", "thumbnail_jpeg", "thumbnail_uris"]
