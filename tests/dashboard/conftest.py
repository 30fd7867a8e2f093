"""Fixtures for the dashboard suite: real photos, an unreachable URL, AppTest factories for each page."""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support import ROOT, free_port

PAGES = {
    "home": ROOT / "streamlit_app.py",
    "classify": ROOT / "pages" / "1_Classify.py",
    "models": ROOT / "pages" / "2_Models.py",
    "compare": ROOT / "pages" / "3_Compare.py",
    "history": ROOT / "pages" / "4_History.py",
}
CORRUPT_JPEG = b"\xff\xd8\xff\xe0 this is not really a JPEG"


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


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def unreachable_url() -> str:
    """A local port with nothing listening (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def page():
    """page(name, url, model="pets") -> an AppTest for that page, pointed at `url` before its first run."""
    def make(name: str, url: str, model: str = "pets") -> AppTest:
        # Always start from the entry script, as `streamlit run` does, so page links resolve; then open the page.
        app = AppTest.from_file(str(PAGES["home"]), default_timeout=120)
        if name != "home":
            app.switch_page(str(PAGES[name].relative_to(ROOT)))
        app.session_state["tf_serving_url"] = url
        app.session_state["model_name"] = model
        return app
    return make
