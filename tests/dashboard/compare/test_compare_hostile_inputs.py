"""Inputs that used to crash or mislead the Compare form (issue 21): a file name holding a NUL character (that image's
error row, the others compared), and a run store that fails under the form: the page names "the run store" and never
its URL, which for PostgreSQL could carry a password; the details go to the dashboard's log. That store is a real
PostgreSQL database (its URL carrying a password) dropped while the page is open."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import psycopg
import pytest

from dashboard.ui import state
from tests.dashboard.classify.test_hostile_inputs import page_strings
from tests.dashboard.compare.support import RED, TwoVersions, labelled_zip, open_compare, wait_for
from tests.dashboard.readable import texts
from tests.support import png_bytes

PASSWORD = "S3cret-Pa55word"


@pytest.mark.slow
def test_a_store_url_with_a_password_never_reaches_the_compare_page(page, fake_server, postgres_server, caplog):
    server = fake_server(TwoVersions())
    plain_url = postgres_server.create_database()
    database = urlsplit(plain_url).path.lstrip("/")
    # The test server trusts loopback, so the password is accepted and ignored: the store opens with it.
    url = plain_url.replace(f"//{postgres_server.user}@", f"//{postgres_server.user}:{PASSWORD}@")
    app = open_compare(page, server.url, url)
    assert not app.exception
    app.file_uploader(key="compare_uploads").set_value([("pets.zip", labelled_zip(), "application/zip")]).run()
    assert not app.exception
    with psycopg.connect(f"host=127.0.0.1 port={postgres_server.port} user={postgres_server.user} dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
    with caplog.at_level(logging.ERROR):
        app.button(key="compare_run").click().run()
    assert not app.exception
    assert "The comparison could not be stored: the run store failed; the dashboard's log says why." in texts(app.error)
    shown = "\n".join(page_strings(app))
    for secret in (PASSWORD, f"127.0.0.1:{postgres_server.port}", database, "postgresql"):
        assert secret not in shown
    assert any(r.name == "servescope.dashboard" and r.getMessage().startswith("The comparison could not be stored: ")
               for r in caplog.records)


@pytest.mark.slow
def test_a_file_name_with_a_nul_character_is_that_images_error_on_each_side(page, fake_server, tmp_path):
    server = fake_server(TwoVersions())
    database = str(tmp_path / "runs.db")
    app = open_compare(page, server.url, database)
    app.file_uploader(key="compare_uploads").set_value([("a\x00b.png", png_bytes(RED), "image/png"),
                                                       ("pets.zip", labelled_zip(), "application/zip")]).run()
    assert not app.exception
    app.button(key="compare_run").click().run()
    assert not app.exception
    comparison_id = app.session_state[state.COMPARISON]
    store, run_ids = wait_for(database, comparison_id)
    for run_id in run_ids:
        run, rows = store.get_run(run_id), store.run_rows(run_id)
        assert (run.status, run.total, run.errors) == ("complete", 19, 1)
        assert rows["error"].dropna().tolist() == [
            "a\\x00b.png: the file name contains a NUL character (shown as \\x00); not read"]
