"""A run's rows are stored on a thread of their own (dashboard.runs.side): a write that fails still ends the run
honestly, with the rows stored before it and the store's reason, and the final status comes after every write.
RunManager.wait (the progress fragment's wait for a run about to end) returns at the end or when the time is up."""
from __future__ import annotations

import threading

import pytest

from client.store.database import StoreError
from tests.dashboard.runs.test_runner import COLOURS, fake, items_of, make_manager, png, store, wait_final  # noqa: F401


class FailingThirdWrite:
    """The real store, except that its third add_rows fails as a full disk would."""

    def __init__(self, store) -> None:
        self.store, self.writes = store, 0

    def add_rows(self, run_id, rows) -> None:
        self.writes += 1
        if self.writes == 3:
            raise StoreError(f"could not store {len(rows)} row(s) of run {run_id} in the test store: disk full")
        self.store.add_rows(run_id, rows)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_a_failed_write_ends_the_run_interrupted_with_the_rows_stored_before_it(fake, store):  # noqa: F811
    _, server = fake
    manager = make_manager(FailingThirdWrite(store), batch_size=2, concurrency=1)
    run_id = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[0])] * 10))
    progress = wait_final(manager, run_id)
    assert progress.status == "interrupted"
    assert progress.error.startswith("StoreError: could not store 2 row(s) of run ")
    assert progress.error.endswith("in the test store: disk full")
    rows = store.run_rows(run_id)
    # The two batches before the failed one are stored; no count exceeds what the store holds.
    assert {0, 1, 2, 3} <= set(rows.index) and 4 not in rows.index and 5 not in rows.index
    assert progress.done == len(rows) and progress.errors == 0


@pytest.mark.slow
def test_the_final_status_comes_after_every_row_is_stored(fake, store):  # noqa: F811
    _, server = fake
    manager = make_manager(store, batch_size=3, concurrency=2)
    run_id = manager.submit_classify(server.url, "pets", items_of([png(colour) for colour in COLOURS * 7]))
    progress = wait_final(manager, run_id)
    assert (progress.status, progress.done, progress.total) == ("complete", 21, 21)
    rows = store.run_rows(run_id)
    assert list(rows.index) == list(range(21))
    assert manager.wait_thumbnails(run_id, 30)   # they may follow the rows
    assert set(store.run_thumbnails(run_id)) == set(range(21))


def test_wait_returns_when_the_run_ends_or_the_time_is_up(fake, store):  # noqa: F811
    model, server = fake
    model.gate = threading.Semaphore(0)   # predict requests wait until released
    manager = make_manager(store, batch_size=2, concurrency=1)
    run_id = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[2])] * 4))
    assert manager.wait(run_id, 0.2) is False and manager.is_active(run_id)
    for _ in range(2):
        model.gate.release()
    assert manager.wait(run_id, 30) is True and not manager.is_active(run_id)
    assert manager.progress(run_id).status == "complete"
    assert manager.wait("no-such-run", 0.1) is True   # nothing of that id runs here
