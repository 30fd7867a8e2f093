"""Fixtures for the client suite. The fake TF Serving (FakeServer, fake_model_handler, png_bytes...) lives in
tests/support.py, shared with the dashboard's page tests; it is re-exported here for the client tests' imports.
The `fake_server` fixture is in tests/conftest.py."""
from __future__ import annotations

from tests.support import (  # noqa: F401 - re-exported
    BAD_MARK, FAKE_LABELS, FakeServer, Handler, fake_metadata, fake_model_handler, fake_prediction, fake_status,
    json_response, png_bytes,
)
