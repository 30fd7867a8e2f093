"""Store failures as the pages show them, by AppTest with the test's own SQLite file: a store path under a regular
file gives History and Classify a message without a path (never Streamlit's generic error); a store file deleted
while the dashboard runs makes History say so, and a run started after it fails visibly instead of "complete"."""
from __future__ import annotations

import pytest

from client.store.database import FILE_GONE
from tests.dashboard.readable import texts
from tests.client.store.test_store_limits import sqlite_files
from tests.dashboard.test_pages import RED, png_upload

OPEN_FAILED = "The run store cannot be opened; the dashboard's log says why."


@pytest.fixture
def blocked_store(tmp_path):
    """A SERVESCOPE_DB whose folder cannot exist: a regular file has its parent's name."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return str(blocker / "x.db")


def test_history_says_the_store_cannot_be_opened_without_a_path(page, fake_pets, blocked_store, tmp_path):
    app = page("history", fake_pets.url, SERVESCOPE_DB=blocked_store).run()
    assert not app.exception
    assert texts(app.error) == [OPEN_FAILED]


def test_classify_shows_a_store_error_without_a_path_or_a_traceback(page, fake_pets, blocked_store, tmp_path):
    app = page("classify", fake_pets.url, SERVESCOPE_DB=blocked_store).run()
    assert not app.exception
    [error] = texts(app.error)
    assert "run store" in error and "log says why" in error
    assert "a-file" not in error and tmp_path.name not in error


@pytest.mark.slow
def test_a_deleted_store_file_is_said_on_history_and_a_later_run_fails_visibly(page, fake_pets, tmp_path):
    from tests.dashboard.classify.test_classify_page import finish, press_classify, upload

    app = page("classify", fake_pets.url).run()
    upload(app, [png_upload("red.png", RED)])
    first = press_classify(app)
    assert finish(app, tmp_path, first).status == "complete"
    for path in sqlite_files(tmp_path / "runs.db"):
        path.unlink(missing_ok=True)
    app.switch_page("app_pages/history.py").run()
    assert not app.exception
    assert texts(app.error) == [f"The stored runs cannot be read: {FILE_GONE}"]
    app.switch_page("app_pages/classify.py").run()
    upload(app, [png_upload("red.png", RED)])
    app.button(key="classify_run").click().run()
    assert not app.exception
    shown = texts(app.error)
    assert any(error.startswith("The run could not be stored: ") for error in shown), shown
    assert any(error.endswith(FILE_GONE) for error in shown), shown   # the page says why
    assert not (tmp_path / "runs.db").exists()   # nothing pretended to store it elsewhere
