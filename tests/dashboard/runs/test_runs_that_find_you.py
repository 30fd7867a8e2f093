"""Runs that find you, through AppTest sessions of the whole app on one run store: pressing Classify puts
`?run=<id>` in the address while the run is still going (a reload reopens it in progress), and every browser's
sidebar lists every run in progress on this dashboard with a link to it, not only the runs it started."""
from __future__ import annotations

import threading

import pytest

from tests.dashboard.classify.test_classify_page import finish, press_classify, store_of, upload
from tests.dashboard.conftest import PAGES
from tests.dashboard.runs.test_ownership_pages import held_until
from tests.dashboard.test_pages import RED, png_upload
from tests.support import fake_model_handler, wait_until

pytestmark = pytest.mark.slow


def sidebar_links(app) -> list[tuple[str, str, str]]:
    """(label, page, query string) of each link in the sidebar."""
    return [(link.proto.label, link.proto.page, link.proto.query_string) for link in app.sidebar.get("page_link")]


def progress_texts(app) -> list[str]:
    return [bar.proto.text for bar in app.get("progress")]


def test_a_running_run_is_in_the_address_and_in_every_browsers_sidebar(page, fake_server, tmp_path):
    gate = threading.Event()
    server = fake_server(fake_model_handler(predict=held_until(gate)))
    try:
        gate.set()   # the page's request for the model's classes goes through
        owner = page("classify", server.url).run()
        upload(owner, [png_upload(f"{i}.png", RED) for i in range(3)])
        gate.clear()  # the run's requests wait
        run_id = press_classify(owner)   # reads ?run=<id> from the address
        store = store_of(tmp_path)
        assert store.get_run(run_id).status in ("queued", "running")
        wait_until(lambda: store.get_run(run_id).status == "running", timeout=60, what="the run to start")
        owner.run()
        assert owner.query_params["run"] in (run_id, [run_id])
        assert progress_texts(owner) == ["0 / 3 images · 0 errors so far"]
        # The Classify page leaves the run it shows out of its own sidebar.
        assert sidebar_links(owner) == []

        # Another browser (or this one after a reload) on Models: the run, its progress and its link.
        other = page("models", server.url).run()
        assert not other.exception
        assert "Runs in progress" in [h.value for h in other.sidebar.subheader]
        assert f"Run {run_id}: 0 / 3 images" in progress_texts(other)
        assert sidebar_links(other) == [(f"Open run {run_id}", "classify", f"run={run_id}")]
        # The owner's sidebar on another page lists it too.
        owner.switch_page(PAGES["history"]).run()
        assert sidebar_links(owner) == [(f"Open run {run_id}", "classify", f"run={run_id}")]

        # The reload: a new session opening the address reopens the run in progress.
        reloaded = page("classify", server.url)
        reloaded.query_params["run"] = run_id
        reloaded.run()
        assert not reloaded.exception
        assert f"Run {run_id}" in [h.value for h in reloaded.subheader]
        assert progress_texts(reloaded) == ["0 / 3 images · 0 errors so far"]
    finally:
        gate.set()
    assert finish(owner, tmp_path, run_id).status == "complete"
    other.run()
    assert "Runs in progress" not in [h.value for h in other.sidebar.subheader]
    assert sidebar_links(other) == []
