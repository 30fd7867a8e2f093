"""A run store that fails on the Classify page (issue 21): the page names "the run store" and never its path or URL,
which for PostgreSQL could carry a password; the details go to the dashboard's log."""
from __future__ import annotations

import logging

from tests.dashboard.classify.test_classify_page import upload
from tests.dashboard.classify.test_hostile_inputs import page_strings
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import RED, png_upload
from tests.support import free_port

PASSWORD = "S3cret-Pa55word"


def test_a_store_url_with_a_password_never_reaches_the_classify_page(page, fake_pets, caplog):
    port = free_port()   # nothing listens there: the store cannot be opened
    app = page("classify", fake_pets.url, SERVESCOPE_DB=f"postgresql://servescope:{PASSWORD}@127.0.0.1:{port}/runs")
    with caplog.at_level(logging.ERROR):
        app.run()
        assert not app.exception
        upload(app, [png_upload("red.png", RED)])
        app.button(key="classify_run").click().run()
        assert not app.exception
    assert texts(app.error) == [
        "The run could not be stored: the run store failed; the dashboard's log says why.",
        "The stored runs cannot be read: the run store failed; the dashboard's log says why."]
    # The page chooses the run it shows before it draws the form above it (the form's upload hint depends on it).
    shown = "\n".join(page_strings(app))
    for secret in (PASSWORD, f"127.0.0.1:{port}", "postgresql", "servescope:"):
        assert secret not in shown
    logged = [r for r in caplog.records if r.name == "servescope.dashboard" and r.levelno == logging.ERROR]
    assert [r.getMessage().split(":")[0] for r in logged][-2:] == ["The stored runs cannot be read",
                                                                   "The run could not be stored"]
