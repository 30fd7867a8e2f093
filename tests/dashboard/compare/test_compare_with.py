"""Compare with… a Classify result: the same images on other targets without a new upload
(RunManager.items_of, state.request_compare), and what the page says when the images are gone."""
from __future__ import annotations

import pytest

from dashboard.runs.manager import ItemsUnavailable, RunManager
from client.store.database import open_store
from dashboard.targets import Target
from dashboard.ui import state
from tests.dashboard.compare.support import FINAL, RED, TwoVersions, wait_for
from tests.dashboard.readable import texts
from tests.support import png_bytes, wait_until


@pytest.fixture
def two_versions(fake_server):
    model = TwoVersions()
    return model, fake_server(model)


@pytest.fixture
def database(tmp_path) -> str:
    return str(tmp_path / "runs.db")


@pytest.mark.slow
def test_compare_with_reruns_a_classify_runs_images_without_an_upload(page, two_versions, database, monkeypatch):
    _, server = two_versions
    monkeypatch.setenv("SERVESCOPE_DB", database)
    manager = state.run_manager()  # the app's own manager (one per database per process)
    items = [(f"photos/cat/{i}.png", (lambda: png_bytes(RED))) for i in range(3)]
    run_id = manager.submit_classify(server.url, "pets", items, label="stable", truth={})
    wait_until(lambda: manager.store.get_run(run_id).status in FINAL and not manager.is_active(run_id),
               timeout=30, what="the classify run")
    app = page("compare", server.url, SERVESCOPE_DB=database)
    app.session_state[state.COMPARE_REQUEST] = run_id
    app.run()
    assert not app.exception
    assert f"Comparing the 3 image(s) of run {run_id} (label:stable) with other targets: no new upload needed." \
        in texts(app.info)
    assert app.multiselect(key="compare_targets").value == [Target(label="stable"), Target(label="canary")]
    app.button(key="compare_run").click().run()
    comparison_id = app.session_state[state.COMPARISON]
    store, run_ids = wait_for(database, comparison_id)
    assert [store.get_run(r).target for r in run_ids] == ["label:stable", "label:canary"]
    assert store.run_rows(run_ids[1])["source"].tolist() == [name for name, _ in items]

    # Images a process no longer holds: said plainly, nothing started.
    gone = manager.store.create_run(kind="classify", url=server.url, model="pets", target="label:stable", total=2)
    app = page("compare", server.url, SERVESCOPE_DB=database)
    app.session_state[state.COMPARE_REQUEST] = gone.id
    app.run()
    app.button(key="compare_run").click().run()
    assert texts(app.error) == [f"the images of run {gone.id} are no longer held (only the newest 4 runs of this "
                                "dashboard process keep them); upload them again"]


def test_items_of_keeps_the_newest_runs_images_and_says_when_they_are_gone(two_versions, tmp_path):
    _, server = two_versions
    manager = RunManager(open_store(tmp_path / "runs.db"), max_runs=1, keep_for_reuse=2, batch_size=2)
    items = [(f"{i}.png", (lambda: png_bytes(RED))) for i in range(2)]
    runs = [manager.submit_classify(server.url, "pets", items) for _ in range(3)]
    for run_id in runs:
        wait_until(lambda run_id=run_id: manager.store.get_run(run_id).status in FINAL
                   and not manager.is_active(run_id), timeout=30, what="runs to finish")
    assert [name for name, _ in manager.items_of(runs[2])] == ["0.png", "1.png"]
    assert manager.items_of(runs[1])[0][1]() == png_bytes(RED)
    with pytest.raises(ItemsUnavailable, match=f"the images of run {runs[0]} are no longer held"):
        manager.items_of(runs[0])
    manager.release(runs[2])
    with pytest.raises(ItemsUnavailable):
        manager.items_of(runs[2])
    manager.shutdown()
