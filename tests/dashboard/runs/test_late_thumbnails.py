"""Rows never wait for their thumbnails (dashboard.runs.side, dashboard.runs.thumbnails): a run ends as soon as its
rows are stored and the thumbnails follow into the same rows; the image bytes waiting for thumbnails stay within a
budget; none is made while a run classifies unless that budget is full; a failed thumbnail costs no row; thumbnails
are made at the lowest CPU priority; the Classify and Compare pages show the thumbnails once they are stored. The
fake TF Serving and run helpers are test_runner's."""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import wait

import pytest

from dashboard.runs import results as classify_runs
from dashboard.runs import thumbnails as thumbnail_pool
from dashboard.runs.thumbnail_jpeg import thumbnail_jpeg
from dashboard.runs.thumbnails import THUMBNAIL_BUDGET_BYTES, ByteBudget, ThumbnailPool
from client.store.database import open_store
from dashboard.ui import state
from tests.dashboard.classify.test_classify_page import press_classify, results_table, store_of, upload
from tests.dashboard.compare.support import frame_with, labelled_zip, open_compare, start_comparison, wait_for
from tests.dashboard.compare.test_compare_page import two_versions  # noqa: F401 - a fixture
from tests.dashboard.readable import texts
from tests.dashboard.runs.test_runner import COLOURS, fake, items_of, make_manager, png, store  # noqa: F401
from tests.client.store.test_store import new_run, result
from tests.dashboard.test_pages import BLUE, GREEN, RED, png_upload
from tests.support import png_bytes, wait_until


@pytest.fixture
def gate(monkeypatch) -> threading.Event:
    """Thumbnails are made only once this opens (as when the model server leaves the thumbnails no CPU)."""
    opened = threading.Event()

    def held_back(data: bytes) -> bytes | None:
        assert opened.wait(30), "the test never let the thumbnails be made"
        return thumbnail_jpeg(data)

    monkeypatch.setattr(thumbnail_pool, "thumbnail_jpeg", held_back)
    yield opened
    opened.set()   # a failed test leaves no thread waiting


def layout(app) -> list[tuple[int, str]]:
    """(position, type) of each element and block drawn at the top of the page (the run's slots)."""
    return [(position, child.type) for position, child in sorted(app.main.children.items())]


def distinct_images(count: int) -> list[bytes]:
    """Each a shade of its own (the same class for the fake model), so each has a thumbnail of its own."""
    return [png(tuple(channel + 5 * i for channel in COLOURS[i % 3])) for i in range(count)]


def test_thumbnails_added_later_go_into_stored_rows_only(any_store):
    run = new_run(any_store, total=3)
    any_store.add_rows(run.id, [result(0, "a.jpg"), result(1, "b.jpg")])
    any_store.add_thumbnails(run.id, {0: b"\xff\xd8a", 1: b"\xff\xd8b", 2: b"\xff\xd8never stored"})
    assert any_store.run_thumbnails(run.id) == {0: b"\xff\xd8a", 1: b"\xff\xd8b"}
    assert any_store.thumbnail_count(run.id) == 2
    assert list(any_store.run_rows(run.id).index) == [0, 1] and any_store.get_run(run.id).done == 2


@pytest.mark.slow
def test_a_run_ends_without_its_thumbnails_and_they_follow_into_its_rows(fake, any_store, gate):
    _, server = fake
    manager = make_manager(any_store, batch_size=3)
    images = distinct_images(7)
    run_id = manager.submit_classify(server.url, "pets", items_of(images))
    assert manager.wait(run_id, 30) is True
    run = any_store.get_run(run_id)
    assert (run.status, run.done, run.errors) == ("complete", 7, 0)
    assert any_store.run_thumbnails(run_id) == {} and any_store.thumbnail_count(run_id) == 0
    assert manager.thumbnails_pending(run_id) and manager.thumbnail_progress(run_id) == (0, 7)
    assert manager.wait_thumbnails(run_id, 0.2) is False
    gate.set()
    assert manager.wait_thumbnails(run_id, 30) is True
    assert not manager.thumbnails_pending(run_id) and manager.thumbnail_progress(run_id) is None
    assert any_store.run_thumbnails(run_id) == {i: thumbnail_jpeg(data) for i, data in enumerate(images)}
    assert any_store.thumbnail_count(run_id) == 7
    assert len(any_store.run_rows(run_id)) == 7 and any_store.get_run(run_id).done == 7   # updated, not added


@pytest.mark.slow
def test_a_cancelled_run_still_gets_the_thumbnails_of_its_stored_rows(fake, store, gate):  # noqa: F811
    model, server = fake
    model.gate = threading.Semaphore(2)   # two batches answered, then the server holds the rest
    manager = make_manager(store, batch_size=2)
    images = distinct_images(10)
    run_id = manager.submit_classify(server.url, "pets", items_of(images))
    wait_until(lambda: store.get_run(run_id).done == 4, timeout=30, what="two batches stored")
    manager.cancel(run_id)
    model.gate.release(100)
    assert manager.wait(run_id, 30) and store.get_run(run_id).status == "cancelled"
    gate.set()
    assert manager.wait_thumbnails(run_id, 30)
    assert store.run_thumbnails(run_id) == {i: thumbnail_jpeg(images[i]) for i in store.run_rows(run_id).index}


@pytest.mark.slow
def test_image_bytes_waiting_for_thumbnails_stay_within_the_budget(fake, store, gate):  # noqa: F811
    _, server = fake
    image = png(COLOURS[0])
    budget = 3 * len(image)
    loads = []

    def counted() -> bytes:
        loads.append(image)
        return image

    manager = make_manager(store, batch_size=2, concurrency=1, thumbnail_budget_bytes=budget)
    run_id = manager.submit_classify(server.url, "pets", [(f"{i}.png", counted) for i in range(12)])
    # Three images fit; the fourth is read and waits for room before the client may send it.
    wait_until(lambda: len(loads) == 4, timeout=30, what="the fourth image read")
    assert manager.wait(run_id, 0.5) is False
    assert len(loads) == 4 and manager.thumbnail_pool.budget.held == budget
    gate.set()
    assert manager.wait_thumbnails(run_id, 30)
    assert (store.get_run(run_id).status, store.get_run(run_id).done) == ("complete", 12)
    assert store.thumbnail_count(run_id) == 12 and manager.thumbnail_pool.budget.held == 0


@pytest.mark.slow
def test_an_image_larger_than_the_whole_budget_still_gets_through(fake, store):  # noqa: F811
    _, server = fake
    manager = make_manager(store, thumbnail_budget_bytes=10)
    images = distinct_images(5)
    run_id = manager.submit_classify(server.url, "pets", items_of(images))
    assert manager.wait_thumbnails(run_id, 30)
    assert store.get_run(run_id).status == "complete"
    assert store.run_thumbnails(run_id) == {i: thumbnail_jpeg(data) for i, data in enumerate(images)}


def test_the_budget_admits_an_oversized_item_only_alone():
    budget = ByteBudget(100)
    budget.take(60)
    budget.take(40)
    admitted = threading.Event()
    waiting = threading.Thread(target=lambda: (budget.take(500), admitted.set()))
    waiting.start()
    assert not admitted.wait(0.2)
    budget.give_back(60)
    assert not admitted.wait(0.2)   # 40 still held
    budget.give_back(40)
    assert admitted.wait(5) and budget.held == 500
    waiting.join(5)


@pytest.mark.slow
def test_no_thumbnail_is_made_while_a_run_classifies(fake, store, monkeypatch):  # noqa: F811
    model, server = fake
    model.gate = threading.Semaphore(0)   # the server holds every batch
    made = []
    monkeypatch.setattr(thumbnail_pool, "thumbnail_jpeg", lambda data: made.append(data) or thumbnail_jpeg(data))
    manager = make_manager(store, batch_size=2, concurrency=2)
    images = distinct_images(6)
    run_id = manager.submit_classify(server.url, "pets", items_of(images))
    wait_until(lambda: len(model.predicts) == 2, timeout=30, what="two batches read and sent")
    assert manager.wait(run_id, 0.3) is False and made == []
    model.gate.release(100)
    assert manager.wait_thumbnails(run_id, 30)
    assert sorted(made) == sorted(images)
    assert store.run_thumbnails(run_id) == {i: thumbnail_jpeg(data) for i, data in enumerate(images)}


def test_each_job_holds_back_its_own_thumbnails_until_it_ends(store, monkeypatch):  # noqa: F811
    made = []
    monkeypatch.setattr(thumbnail_pool, "thumbnail_jpeg", lambda data: made.append(data) or data)
    pool = ThumbnailPool(store)
    with pool.held_back() as second_job:
        with pool.held_back():
            pass   # a job that ended with nothing to make
        held = second_job(b"second")
        with pool.held_back() as first_job:
            first = first_job(b"first")
        assert first.result(timeout=5) == b"first"
        assert not held.done() and made == [b"first"]
    assert held.result(timeout=5) == b"second"
    pool.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("early", [False, True], ids=["made-after-the-run", "made-early-for-the-budget"])
def test_a_failed_thumbnail_costs_no_row(fake, store, monkeypatch, early):  # noqa: F811
    _, server = fake
    images = distinct_images(4)
    opened = threading.Event()

    def flaky(data: bytes) -> bytes | None:
        if data == images[3] or not early:
            assert opened.wait(30)
        if data == images[1]:
            raise OSError("decoder crashed")
        return None if data == images[2] else thumbnail_jpeg(data)   # 2: as for a PNG too big to decode

    monkeypatch.setattr(thumbnail_pool, "thumbnail_jpeg", flaky)
    # With a 1-byte budget each image waits for the one before it to be made: 0, 1 and 2 are made (or fail)
    # before their rows are stored, 3 after the run.
    manager = make_manager(store, batch_size=4, thumbnail_budget_bytes=1 if early else THUMBNAIL_BUDGET_BYTES)
    run_id = manager.submit_classify(server.url, "pets", items_of(images))
    assert manager.wait(run_id, 30) and manager.thumbnails_pending(run_id)
    assert store.run_thumbnails(run_id) == ({0: thumbnail_jpeg(images[0])} if early else {})
    assert manager.thumbnail_progress(run_id) == ((1, 2) if early else (0, 4))
    opened.set()
    assert manager.wait_thumbnails(run_id, 30)
    rows = store.run_rows(run_id)
    assert list(rows.index) == [0, 1, 2, 3] and rows["error"].isna().all()
    assert store.run_thumbnails(run_id) == {0: thumbnail_jpeg(images[0]), 3: thumbnail_jpeg(images[3])}


def test_an_ended_jobs_thumbnails_wait_for_its_results_to_be_drawn(store, monkeypatch):  # noqa: F811
    made = []
    monkeypatch.setattr(thumbnail_pool, "thumbnail_jpeg", lambda data: made.append(data) or data)
    pool = ThumbnailPool(store, draw_grace_s=60)
    with pool.held_back(["run-a", "run-b"]) as job:   # a comparison's two sides
        held = job(b"image")
    assert wait([held], timeout=0.3).not_done and made == []   # the job ended; its page has not drawn it yet
    pool.results_drawn("another-run")
    assert wait([held], timeout=0.3).not_done
    pool.results_drawn("run-b")
    assert held.result(timeout=5) == b"image" and made == [b"image"]
    pool.results_drawn("run-a")   # drawn again (another session, a rerun): nothing more to start
    pool.shutdown()
    assert made == [b"image"]


def test_with_no_page_drawing_the_results_thumbnails_start_after_the_grace(store, monkeypatch):  # noqa: F811
    monkeypatch.setattr(thumbnail_pool, "thumbnail_jpeg", lambda data: data)
    pool = ThumbnailPool(store, draw_grace_s=0.5)
    with pool.held_back(["run-a"]) as job:
        held = job(b"image")
    assert wait([held], timeout=0.2).not_done
    assert held.result(timeout=5) == b"image"
    pool.shutdown()


def test_a_full_budget_starts_thumbnails_waiting_for_a_drawing(store, monkeypatch):  # noqa: F811
    monkeypatch.setattr(thumbnail_pool, "thumbnail_jpeg", lambda data: data)
    pool = ThumbnailPool(store, budget_bytes=10, draw_grace_s=60)
    with pool.held_back(["run-a"]) as first_job:
        waiting = first_job(b"x" * 8)
    assert wait([waiting], timeout=0.2).not_done and pool.budget.held == 8
    with pool.held_back(["run-b"]) as second_job:
        second_job(b"y" * 8)   # would exceed the budget: the waiting thumbnail is made to free its bytes
        assert waiting.result(timeout=5) == b"x" * 8
    pool.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sets the CPU priority of each thread")
def test_thumbnails_are_made_at_the_lowest_cpu_priority(store, monkeypatch):  # noqa: F811
    priorities = []

    def record(data: bytes) -> None:
        priorities.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    monkeypatch.setattr(thumbnail_pool, "thumbnail_jpeg", record)
    pool = ThumbnailPool(store, workers=2)
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    wait([pool.submit(b"image") for _ in range(6)], timeout=30)
    pool.shutdown()
    assert priorities == [19] * 6
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own   # only the pool's threads


@pytest.mark.slow
def test_the_classify_page_shows_the_thumbnails_once_they_are_stored(page, fake_pets, tmp_path, gate):
    colours = [RED, GREEN, BLUE]
    app = page("classify", fake_pets.url).run()
    upload(app, [png_upload(f"{i}.png", colour) for i, colour in enumerate(colours)])
    run_id = press_classify(app)
    store = store_of(tmp_path)
    wait_until(lambda: store.get_run(run_id).finished, timeout=60, what=f"run {run_id} to finish")
    app.run()
    assert not app.exception
    assert texts(app.success) == [f"Run {run_id}: complete: 3 of 3 image(s) classified."]
    assert "Thumbnails: 0 of 3 made…" in texts(app.caption)
    assert results_table(app).value["thumbnail"].tolist() == ["", "", ""]   # blank, not the failed tile
    places = layout(app)
    gate.set()
    assert state.run_manager().wait_thumbnails(run_id, 30)
    app.run()   # what the caption's fragment does once they are stored
    assert not app.exception
    assert not [text for text in texts(app.caption) if text.startswith("Thumbnails:")]
    # The caption's slot stays (an empty container): nothing after it moves, so the browser never shows an element
    # twice while it redraws.
    assert layout(app) == places
    expected = [classify_runs.jpeg_data_uri(thumbnail_jpeg(png_bytes(colour))) for colour in colours]
    assert results_table(app).value["thumbnail"].tolist() == expected


@pytest.mark.slow
def test_the_classify_page_drawing_a_finished_run_lets_its_thumbnails_start(page, fake_pets, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setattr(thumbnail_pool, "DRAW_GRACE_S", 60.0)   # no page: they would wait a minute
    app = page("classify", fake_pets.url).run()
    upload(app, [png_upload(f"{i}.png", colour) for i, colour in enumerate([RED, GREEN, BLUE])])
    run_id = press_classify(app)
    store = store_of(tmp_path)
    wait_until(lambda: store.get_run(run_id).finished, timeout=60, what=f"run {run_id} to finish")
    manager = state.run_manager()
    assert manager.wait_thumbnails(run_id, 0.5) is False and store.thumbnail_count(run_id) == 0
    app.run()   # the finished run's results are drawn
    assert not app.exception
    assert "Thumbnails: 0 of 3 made…" in texts(app.caption)
    assert manager.wait_thumbnails(run_id, 30)
    assert store.thumbnail_count(run_id) == 3


@pytest.mark.slow
def test_a_comparison_shows_the_first_sides_thumbnails_once_they_are_stored(page, two_versions, tmp_path,  # noqa: F811
                                                                             gate):
    _, server = two_versions
    database = str(tmp_path / "runs.db")
    app = open_compare(page, server.url, database)
    comparison_id = start_comparison(app, ("pets.zip", labelled_zip(), "application/zip"))
    store, run_ids = wait_for(database, comparison_id, thumbnails=False)
    app.run()
    assert not app.exception
    assert "Thumbnails: 0 of 18 made…" in texts(app.caption)
    app.selectbox(key="compare_0_flip_cell").set_value("dog → cat (6)").run()
    assert "thumbnail" not in frame_with(app, "js_distance").columns   # none stored yet
    places = layout(app)
    gate.set()
    assert state.run_manager().wait_thumbnails(run_ids[0], 30)
    app.run()
    assert not [text for text in texts(app.caption) if text.startswith("Thumbnails:")]
    assert layout(app) == places   # the caption's slot stays: nothing after it moves
    assert all(uri.startswith("data:image/jpeg;base64,") for uri in frame_with(app, "js_distance")["thumbnail"])
    assert open_store(database).thumbnail_count(run_ids[0]) == 18
