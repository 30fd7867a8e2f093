"""The model server as the dashboard sees it, through client/: a client for a run (connection.py), errors
explained (explain.py: import the module; its function has the same name), the model overview (overview.py),
cached answers (answer_cache.py), what the server did over time (watch.py) and signatures with their one
digest (signatures.py), and model profiles: where a run's comes from (profiles.py) and the editor's logic
(profile_form.py)."""
from dashboard.server.answer_cache import AnswerCache, describe_age
from dashboard.server.connection import NothingToClassify, configured_signature, open_client, probe_class_names
from dashboard.server.overview import ModelOverview, fetch_model_overview, format_shape
from dashboard.server.profiles import (PROFILES_SETTING, ProfileCatalog, ProfileChoice, ProfileChooser,
                                       ProfileFileError, ProfileFolder, ProfileProblem, configured_folder,
                                       describe_profile, short_digest)
from dashboard.server.signatures import ABSENT, signature_digest, signature_rows, tensor_text

__all__ = ["ABSENT", "AnswerCache", "ModelOverview", "NothingToClassify", "PROFILES_SETTING", "ProfileCatalog",
           "ProfileChoice", "ProfileChooser", "ProfileFileError", "ProfileFolder", "ProfileProblem",
           "configured_folder", "configured_signature", "describe_age", "describe_profile", "fetch_model_overview",
           "format_shape", "open_client", "probe_class_names", "short_digest", "signature_digest", "signature_rows",
           "tensor_text"]
