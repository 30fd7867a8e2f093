"""Which preparation fits this model? The preprocessing-skew finder: the candidate preparations (candidates.py),
classifying a sample under each (finder.py), their scores and ranking (ranking.py), and the view (view.py,
result_view.py)."""
from dashboard.skew.candidates import Candidate, candidates
from dashboard.skew.finder import Finding, Refused, Tried, choose_sample, find_preparation, profile_client
from dashboard.skew.ranking import Ranked, Score, rank, score_rows

__all__ = ["Candidate", "Finding", "Ranked", "Refused", "Score", "Tried", "candidates", "choose_sample",
           "find_preparation", "profile_client", "rank", "score_rows"]
