"""Fixtures for the dashboard suite: real photos, run stores, an unreachable URL, a fake TF Serving, AppTest page
factories."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.runs.manager import RunManager
from client.store.database import open_store
from dashboard.ui import state
from tests.support import ROOT, fake_model_handler

ENTRY = ROOT / "streamlit_app.py"
PAGES = {name: f"app_pages/{name}.py" for name in ("home", "classify", "compare", "models", "history", "datasets")}
CORRUPT_JPEG = b"\xff\xd8\xff\xe0 this is not really a JPEG"
SERVER_SETTINGS = ("TF_SERVING_URL", "SERVESCOPE_SERVERS", "SERVESCOPE_ALLOW_CUSTOM_URL", "SERVESCOPE_MODEL",
                   "SERVESCOPE_LABELS")


@pytest.fixture(scope="session")
def labelled_photos(shared_images) -> list[tuple[Path, str]]:
    """Every test photo with its true label, from the manifest."""
    with open(shared_images / "manifest.csv", newline="") as handle:
        return [(shared_images / row["file"], row["label"]) for row in csv.DictReader(handle)]


@pytest.fixture(scope="session")
def few_photos(labelled_photos) -> list[tuple[Path, str]]:
    """Two photos of each class: enough to exercise every code path, cheap enough for every test."""
    chosen: list[tuple[Path, str]] = []
    for label in ("cat", "dog", "other"):
        chosen += [item for item in labelled_photos if item[1] == label][:2]
    return chosen


def as_upload(path: Path) -> tuple[str, bytes]:
    return path.name, path.read_bytes()



@pytest.fixture
def fake_pets(fake_server):
    """A fake TF Serving with one model (version 1) that labels solid-colour PNGs by their dominant channel:
    red -> cat, green -> dog, blue -> other (tests/support.py)."""
    return fake_server(fake_model_handler())


@pytest.fixture
def page(monkeypatch, tmp_path):
    """page(name, url, model="pets", **environment) -> an AppTest on that page, not yet run on it.

    The server comes from the operator's environment (TF_SERVING_URL unless SERVESCOPE_SERVERS is given), as in
    production. The app starts from the entry script, as `streamlit run` does, so st.navigation registers the
    pages and their links resolve; it runs once there, then switches to the page."""
    def make(name: str, url: str | None, model: str = "pets", **environment: str) -> AppTest:
        for setting in SERVER_SETTINGS:
            monkeypatch.delenv(setting, raising=False)
        monkeypatch.setenv("SERVESCOPE_DB", str(tmp_path / "runs.db"))  # the test's own run store
        if url is not None:
            monkeypatch.setenv("TF_SERVING_URL", url)
        for setting, value in environment.items():
            monkeypatch.setenv(setting, value)
        app = AppTest.from_file(str(ENTRY), default_timeout=60)
        app.session_state[state.MODEL] = model
        if name != "home":
            app.run()
            app.switch_page(PAGES[name])
        return app
    return make


@pytest.fixture(autouse=True)
def own_image_store(monkeypatch, tmp_path):
    """Every test keeps images (RunManager, datasets) in an image store of its own, never the default folder in the
    home directory; a test may point SERVESCOPE_BLOBS elsewhere."""
    monkeypatch.setenv("SERVESCOPE_BLOBS", str(tmp_path / "blobs"))
    monkeypatch.delenv("SERVESCOPE_BLOBS_QUOTA_MB", raising=False)


@pytest.fixture(autouse=True)
def managers_end_with_their_test(monkeypatch):
    """Every RunManager a test creates (directly, or cached by an AppTest page) is shut down when the test ends:
    its lease keeper renews every few seconds, and hundreds left running would load the rest of the suite and log
    about stores their tests removed. Managers of module- or session-scoped fixtures are created before this
    fixture and are left to their owners."""
    created: list[RunManager] = []
    original = RunManager.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(RunManager, "__init__", recording)
    yield
    for manager in created:
        manager.shutdown(wait=False)
    if created:
        st.cache_resource.clear()   # a later test on the same database must not get a stopped manager
