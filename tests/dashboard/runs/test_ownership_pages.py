"""Run ownership on the pages, through two (or three) AppTest sessions of the whole app on one run store: each
session is a browser of its own (its own token), as two colleagues on one dashboard. The browser that started a run
sees Cancel, Delete, its request inspector and "Compare with…"; another browser, opening the run by its link or from
History, sees the shared results and is told who can act; an operator (SERVESCOPE_OPERATOR_TOKEN typed in the
sidebar) can cancel and delete; nobody can delete a running run."""
from __future__ import annotations

import threading

import pytest
from werkzeug.wrappers import Request

from dashboard.history.delete_view import OPERATOR_ONLY
from dashboard.runs.ownership import WHAT_IS_SHARED, WHO_MAY_CANCEL, WHO_MAY_DELETE
from client.store.records import RunActiveError
from dashboard.ui.inspector_view import PRIVATE
from tests.dashboard.classify.test_classify_page import finish, press_classify, results_table, store_of, upload
from tests.dashboard.conftest import PAGES
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import GREEN, RED, png_upload
from tests.support import fake_model_handler, wait_until

pytestmark = pytest.mark.slow
TOKEN = "operator-token-for-the-tests-0123"
SHARED_NOTE = (f"Shared view (another browser started this run). {WHAT_IS_SHARED} Only the browser that started it, "
               "or an operator, can cancel, retry or delete it.")


def held_until(gate: threading.Event):
    def predict(request: Request):
        gate.wait(timeout=60)
        return fake_model_handler()(request)
    return predict


def open_run(page, url: str, run_id: str):
    """Another browser opening the run's link (…/classify?run=<id>)."""
    app = page("classify", url, SERVESCOPE_OPERATOR_TOKEN=TOKEN)
    app.query_params["run"] = run_id
    app.run()
    assert not app.exception
    return app


def buttons(app) -> set[str]:
    return {button.key for button in app.button}


def history_of(app, run_id: str):
    """The app on History with `run_id` selected."""
    app.switch_page(PAGES["history"]).run()
    app.multiselect(key="history_stored_delete_selected").select(run_id).run()
    assert not app.exception
    return app


def markdown_texts(app) -> list[str]:
    return texts(app.markdown)


def test_only_the_starting_browser_or_an_operator_can_cancel_and_nobody_can_delete_a_running_run(
        page, fake_server, tmp_path):
    gate = threading.Event()
    server = fake_server(fake_model_handler(predict=held_until(gate)))
    try:
        gate.set()   # the page's request for the model's classes goes through
        owner = page("classify", server.url, SERVESCOPE_OPERATOR_TOKEN=TOKEN).run()
        upload(owner, [png_upload(f"{i}.png", RED) for i in range(4)])
        gate.clear()  # the run's requests wait
        run_id = press_classify(owner)
        store = store_of(tmp_path)
        wait_until(lambda: store.get_run(run_id).status == "running", timeout=60, what="the run to start")
        owner.run()
        assert "classify_cancel" in buttons(owner) and WHO_MAY_CANCEL not in texts(owner.caption)

        # Another browser, by the run's link: the progress, no Cancel, and who can.
        other = open_run(page, server.url, run_id)
        assert "classify_cancel" not in buttons(other)
        assert WHO_MAY_CANCEL in texts(other.caption) and SHARED_NOTE in texts(other.caption)
        other.text_input(key="sidebar_operator_token").input("not-the-operator-token").run()
        assert "That is not the operator token." in texts(other.sidebar.caption)
        assert "classify_cancel" not in buttons(other)
        # ... nor from History: a running run cannot be deleted, by this browser or anyone.
        history_of(other, run_id)
        assert "history_stored_delete" not in buttons(other)
        assert f"- Not deletable: run {run_id} is running: nobody can delete a queued or running run" in \
            markdown_texts(other)
        assert WHO_MAY_DELETE in texts(other.caption) and OPERATOR_ONLY in texts(other.caption)
        assert "history_stored_clear" not in buttons(other)
        # An operator cannot delete it either (the store refuses too) ...
        other.text_input(key="sidebar_operator_token").input(TOKEN).run()
        assert "You act as an operator: you can cancel or delete any run or dataset." in texts(other.sidebar.caption)
        assert "history_stored_delete" not in buttons(other)
        with pytest.raises(RunActiveError, match=f"run {run_id} is running"):
            store.delete_run(run_id)
        # ... but may cancel it.
        other.switch_page(PAGES["classify"])
        other.query_params["run"] = run_id
        other.run()
        assert WHO_MAY_CANCEL not in texts(other.caption)
        other.button(key="classify_cancel").click().run()
        assert not other.exception
    finally:
        gate.set()
    run = finish(owner, tmp_path, run_id)
    assert run.status == "cancelled"


def test_a_finished_run_is_deleted_only_by_its_browser_or_an_operator_and_keeps_its_exchanges_and_uploads(
        page, fake_pets, tmp_path):
    owner = page("classify", fake_pets.url, SERVESCOPE_OPERATOR_TOKEN=TOKEN).run()
    run_ids = []
    for colour in (RED, GREEN):
        upload(owner, [png_upload("a.png", colour), png_upload("b.png", colour)])
        run_ids.append(press_classify(owner))
        finish(owner, tmp_path, run_ids[-1])
    first, second = run_ids
    # The browser that started it: its request inspector and its uploads to compare again.
    [inspector] = [e for e in owner.expander if e.label == "Request inspector"]
    assert "POST" in inspector.dataframe[0].value["method"].tolist()
    assert "classify_compare" in buttons(owner) and SHARED_NOTE not in texts(owner.caption)

    # Another browser, by the link: the stored results (shared), not the exchanges, not the uploads.
    other = open_run(page, fake_pets.url, second)
    assert results_table(other).value["name"].tolist() == ["a.png", "b.png"]
    assert SHARED_NOTE in texts(other.caption)
    [inspector] = [e for e in other.expander if e.label == "Request inspector"]
    assert not inspector.dataframe and PRIVATE in texts(inspector.caption)
    assert "classify_compare" not in buttons(other)

    # History is shared, deleting is not.
    history_of(other, second)
    [table] = [t.value for t in other.dataframe if "yours" in t.value.columns]
    assert table["yours"].tolist() == [False, False]
    assert "history_stored_delete" not in buttons(other)
    assert (f"- Not deletable: run {second} can only be deleted by the browser that started it, or an operator "
            "(another browser started it)") in markdown_texts(other)
    # An operator deletes another browser's run.
    other.text_input(key="sidebar_operator_token").input(TOKEN).run()
    other.multiselect(key="history_stored_delete_selected").set_value([first]).run()
    other.button(key="history_stored_delete").click().run()
    other.button(key="history_stored_delete_yes").click().run()
    assert "Deleted 1 run(s)." in texts(other.info)
    assert store_of(tmp_path).get_run(first) is None
    # The starting browser deletes its own.
    history_of(owner, second)
    [table] = [t.value for t in owner.dataframe if "yours" in t.value.columns]
    assert table["yours"].tolist() == [True]
    owner.button(key="history_stored_delete").click().run()
    owner.button(key="history_stored_delete_yes").click().run()
    assert "Deleted 1 run(s)." in texts(owner.info)
    assert store_of(tmp_path).get_run(second) is None
