"""Who may act on a run (dashboard.runs.ownership): the rules, the store's refusal to delete a running run (SQLite
and PostgreSQL), and the RunManager's checks of cancel, retry and reuse against the visitor asking (a fake TF
Serving on a free port holds the predict requests so that a run stays running)."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Iterator

import pytest

from dashboard.runs.manager import ItemsUnavailable, RunManager
from dashboard.runs.ownership import (
    WHAT_IS_SHARED,
    WHO_MAY_DELETE_DATASET,
    Actor,
    NotAllowed,
    is_browser_token,
    is_operator_token,
    new_browser_token,
    ownership_note,
    token_digest,
)
from dashboard.runs.visitor import VisitorManager
from client.store.dataset_records import DatasetSummary
from client.store.records import RunActiveError
from tests.dashboard.runs.test_runner import COLOURS, FakeModel, items_of, png, store  # noqa: F401 (fixture)
from tests.support import FakeServer, wait_until

OWNER = Actor(token_digest("a" * 43))
STRANGER = Actor(token_digest("b" * 43))
OPERATOR = Actor(token_digest("c" * 43), operator=True)
FINAL = ("complete", "cancelled", "interrupted", "failed")


def new_run(store, started_by=OWNER.browser, status="running"):
    run = store.create_run(kind="classify", url="http://127.0.0.1:1", model="pets", target="latest", total=2,
                           started_by=started_by)
    if status != "queued":
        store.update_progress(run.id, status="running")
    if status not in ("queued", "running"):
        store.finish_run(run.id, status)
    return store.get_run(run.id)


# -- the rules --------------------------------------------------------------------------------------------
def test_tokens_are_random_url_safe_and_stored_only_as_digests():
    first, second = new_browser_token(), new_browser_token()
    assert first != second and is_browser_token(first) and len(first) == 43
    assert not is_browser_token("short") and not is_browser_token("x" * 40 + ";") and not is_browser_token(None)
    assert token_digest(first) != first and len(token_digest(first)) == 64
    assert is_operator_token(" s3cret-operator-token ", "s3cret-operator-token")
    assert not is_operator_token("s3cret-operator-tokeN", "s3cret-operator-token")
    assert not is_operator_token("", None) and not is_operator_token("anything", None)


def test_the_starting_browser_or_an_operator_may_act_and_others_are_told_who_may(store):
    mine, nobodys = new_run(store), new_run(store, started_by=None, status="complete")
    assert OWNER.may_act(mine) and OPERATOR.may_act(mine) and not STRANGER.may_act(mine)
    assert not OWNER.may_act(nobodys) and OPERATOR.may_act(nobodys)
    # A run no browser started holds no visitor's uploads or exchanges; another browser's run does.
    assert STRANGER.may_see_private(nobodys) and not STRANGER.may_see_private(mine)
    with pytest.raises(NotAllowed) as refused:
        STRANGER.check_act(mine, "delete")
    assert str(refused.value) == (f"run {mine.id} cannot be deleted from this browser (another browser started it): "
                                  "only the browser that started it, or an operator, can do that")
    assert ownership_note(OWNER, mine) is None
    assert ownership_note(STRANGER, mine) == (
        f"Shared view (another browser started this run). {WHAT_IS_SHARED} Only the browser that started it, or an "
        "operator, can cancel, retry or delete it.")


def dataset_made_by(created_by: str | None) -> DatasetSummary:
    moment = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    return DatasetSummary(dataset_id="d1", name="audit", created_at=moment, latest_version=1, updated_at=moment,
                          images=1, bytes=10, truth_known=0, class_balance={}, runs=0, created_by=created_by)


def test_the_creating_browser_or_an_operator_may_delete_a_dataset():
    mine, clis = dataset_made_by(OWNER.browser), dataset_made_by(None)
    assert OWNER.may_delete_dataset(mine) and OPERATOR.may_delete_dataset(mine)
    assert not STRANGER.may_delete_dataset(mine)
    # A dataset no browser created (the CLI's, or older than dataset ownership): an operator only.
    assert not OWNER.may_delete_dataset(clis) and not STRANGER.may_delete_dataset(clis)
    assert OPERATOR.may_delete_dataset(clis)
    # A visitor whose browser is unknown is nobody's creator, not even of a dataset nobody created.
    assert not Actor(None).may_delete_dataset(clis) and not Actor(None).may_delete_dataset(mine)
    assert Actor(None, operator=True).may_delete_dataset(mine)
    assert WHO_MAY_DELETE_DATASET == "Only the browser that created a dataset, or an operator, can delete it."


# -- the store ---------------------------------------------------------------------------------------------
def test_nobody_can_delete_a_queued_or_running_run_the_store_refuses(any_store):
    store = any_store
    running, queued, done = new_run(store), new_run(store, status="queued"), new_run(store, status="complete")
    for run in (running, queued):
        with pytest.raises(RunActiveError) as refused:
            store.delete_run(run.id)
        assert str(refused.value) == (f"run {run.id} is {run.status}: a queued or running run cannot be deleted "
                                      "(cancel it and wait for it to end)")
    assert store.clear_all() == 1   # the finished run only
    assert {r.run.id for r in store.list_runs()} == {running.id, queued.id} and store.get_run(done.id) is None
    assert store.apply_retention(0) == []
    store.finish_run(running.id, "cancelled")
    assert store.delete_run(running.id) is True and store.delete_run(running.id) is False


def test_a_finished_side_of_a_running_comparison_cannot_be_deleted(any_store):
    store = any_store
    finished, running = new_run(store, status="complete"), new_run(store)
    comparison = store.save_comparison(finished.id, [running.id])
    with pytest.raises(RunActiveError, match=f"run {finished.id} belongs to a comparison that is still running"):
        store.delete_run(finished.id)
    assert store.get_comparison(comparison.id) is not None
    store.finish_run(running.id, "complete")
    assert store.delete_run(finished.id) is True and store.get_comparison(comparison.id) is None


# -- the manager --------------------------------------------------------------------------------------------
@pytest.fixture
def held() -> Iterator[tuple[FakeModel, FakeServer]]:
    """The fake model with its predict requests held until the test releases them."""
    model = FakeModel()
    model.gate = threading.Semaphore(0)
    server = FakeServer(model)
    server.start()
    yield model, server
    model.gate.release(1000)
    server.stop()




def test_cancel_retry_and_reuse_are_checked_against_the_visitor(held, store):
    model, server = held
    manager = RunManager(store, max_runs=2, batch_size=2, concurrency=1)
    as_owner, as_stranger = VisitorManager(manager, OWNER), VisitorManager(manager, STRANGER)
    run_id = as_owner.submit_classify(server.url, "pets", items_of([png(COLOURS[0])] * 4))
    assert store.get_run(run_id).started_by == OWNER.browser
    wait_until(lambda: model.predicts, timeout=30, what="the first request")
    with pytest.raises(NotAllowed, match=f"run {run_id} cannot be cancelled from this browser"):
        as_stranger.cancel(run_id)
    assert manager.is_active(run_id) and manager.progress(run_id).status not in FINAL
    assert VisitorManager(manager, OPERATOR).cancel(run_id) is True
    model.gate.release(1000)
    wait_until(lambda: store.get_run(run_id).finished and not manager.is_active(run_id), timeout=30,
               what="the cancelled run to end")
    assert store.get_run(run_id).status == "cancelled"
    # Its uploads are the owner's to reuse (and retry), not another browser's.
    assert [name for name, _ in as_owner.items_of(run_id)] == [f"batch.zip/{i}.png" for i in range(4)]
    with pytest.raises(ItemsUnavailable) as refused:
        as_stranger.items_of(run_id)
    assert str(refused.value) == (f"the images of run {run_id} belong to the browser that started it: upload them "
                                  "to compare them")
    with pytest.raises(NotAllowed, match=f"run {run_id} cannot be retried from this browser"):
        as_stranger.retry_failed(run_id)
    assert as_owner.retry_failed(run_id) == 4 - store.get_run(run_id).done   # the rows the cancel left unsent
    wait_until(lambda: store.get_run(run_id).finished and not manager.is_active(run_id), timeout=30,
               what="the retry to end")
    # A run no browser started (a script's) is nobody's: its images are open to any visitor.
    scripted = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[1])] * 2))
    wait_until(lambda: store.get_run(scripted).finished and not manager.is_active(scripted), timeout=30,
               what="the scripted run")
    assert store.get_run(scripted).started_by is None and len(as_stranger.items_of(scripted)) == 2
    manager.shutdown()


def test_the_operator_and_lease_settings_are_checked_and_named():
    from dashboard import config
    assert config.operator_token({}) is None and config.operator_token({"SERVESCOPE_OPERATOR_TOKEN": " "}) is None
    assert config.operator_token({"SERVESCOPE_OPERATOR_TOKEN": "x" * 16}) == "x" * 16
    with pytest.raises(config.FieldError) as short:
        config.operator_token({"SERVESCOPE_OPERATOR_TOKEN": "letmein"})
    assert str(short.value) == ("SERVESCOPE_OPERATOR_TOKEN: must be at least 16 characters long (it has 7); no "
                                "visitor is an operator until it is")
    assert config.lease_timing({}) == (5.0, 30.0)
    assert config.lease_timing({"SERVESCOPE_LEASE_RENEW_S": "0.2", "SERVESCOPE_LEASE_EXPIRY_S": "1.5"}) == (0.2, 1.5)
    for environ, message in (
            ({"SERVESCOPE_LEASE_RENEW_S": "soon"},
             "SERVESCOPE_LEASE_RENEW_S: 'soon' is not a number of seconds above 0"),
            ({"SERVESCOPE_LEASE_EXPIRY_S": "-1"}, "SERVESCOPE_LEASE_EXPIRY_S: '-1' is not a number of seconds above 0"),
            ({"SERVESCOPE_LEASE_EXPIRY_S": "10"},
             "SERVESCOPE_LEASE_EXPIRY_S: 10 s is less than three renewals (SERVESCOPE_LEASE_RENEW_S is 5 s)")):
        with pytest.raises(config.FieldError) as bad:
            config.lease_timing(environ)
        assert str(bad.value) == message
