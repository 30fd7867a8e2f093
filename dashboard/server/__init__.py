"""The model server as the dashboard sees it, through client/: a client for a run (connection.py), errors
explained (explain.py: import the module; its function has the same name), the model overview (overview.py),
cached answers (answer_cache.py), what the server did over time (watch.py) and signatures with their one
digest (signatures.py)."""
from dashboard.server.answer_cache import AnswerCache, describe_age
from dashboard.server.connection import NothingToClassify, configured_signature, open_client, probe_class_names
from dashboard.server.overview import ModelOverview, fetch_model_overview, format_shape
from dashboard.server.signatures import ABSENT, signature_digest, signature_rows, tensor_text

__all__ = ["ABSENT", "AnswerCache", "ModelOverview", "NothingToClassify", "configured_signature", "describe_age",
           "fetch_model_overview", "format_shape", "open_client", "probe_class_names", "signature_digest",
           "signature_rows", "tensor_text"]
