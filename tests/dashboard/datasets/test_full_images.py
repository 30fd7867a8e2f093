"""Full images after the run: the mistakes gallery and a comparison's changed images open one image at full size
from the image store (the run's kept images or its dataset's), a lost image is said naming it, and only a visitor
who may see a run's images gets them (an upload's are its browser's; a dataset's are everyone's)."""
from __future__ import annotations

import pandas as pd
import pytest

from client.store import open_store
from dashboard.runs.ownership import Actor
from dashboard.ui import full_image
from tests.dashboard.datasets.support import datasets_at, lose_object, make_dataset, stored_run
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import BLUE, GREEN, RED
from tests.support import png_bytes

# The fake server names a PNG by its dominant channel: the green photo in cat/ is a mistake (predicted dog).
BIG_GREEN = png_bytes(GREEN, size=(300, 200))
MEMBERS = {"audit/cat/r.png": png_bytes(RED), "audit/cat/g.png": BIG_GREEN, "audit/other/b.png": png_bytes(BLUE)}


def images_drawn(app) -> list:
    return [element for element in app.get("image")]


def run_on_dataset(page, fake_pets, tmp_path):
    make_dataset(tmp_path, "audit", MEMBERS)
    app = page("classify", fake_pets.url).run()
    app.radio(key="classify_upload_kind").set_value("A dataset").run()
    app.button(key="classify_run").click().run()
    run_id = app.query_params["run"]
    run_id = run_id if isinstance(run_id, str) else run_id[0]
    from tests.dashboard.datasets.support import wait_run
    from dashboard.ui import state
    wait_run(open_store(tmp_path / "runs.db"), run_id)
    assert state.run_manager().wait_thumbnails(run_id, 30)
    app.run()
    assert not app.exception
    return app, run_id


@pytest.mark.slow
def test_a_mistake_opens_at_full_size_from_the_dataset(page, fake_pets, tmp_path):
    app, run_id = run_on_dataset(page, fake_pets, tmp_path)
    picker = app.selectbox(key="classify_eval_mistake_full")
    assert picker.options == ["g.png"] and picker.value is None
    before = len(images_drawn(app))
    picker.set_value("audit/cat/g.png").run()
    assert not app.exception
    assert len(images_drawn(app)) == before + 1
    assert "audit/cat/g.png" in [t.value for t in app.text]
    assert full_image.image_opener(open_store(tmp_path / "runs.db").get_run(run_id),
                                   open_store(tmp_path / "runs.db").run_rows(run_id),
                                   Actor(None))("audit/cat/g.png") == BIG_GREEN


@pytest.mark.slow
def test_a_lost_image_is_said_naming_it(page, fake_pets, tmp_path):
    app, run_id = run_on_dataset(page, fake_pets, tmp_path)
    data = datasets_at(tmp_path)
    [lost] = [item for item in data.items(data.get("audit")) if item.source == "audit/cat/g.png"]
    lose_object(tmp_path, lost.sha256)
    app.selectbox(key="classify_eval_mistake_full").set_value("audit/cat/g.png").run()
    assert not app.exception
    assert texts(app.warning)[-1] == (f"The full image cannot be shown: audit/cat/g.png: its image (sha256 "
                                      f"{lost.sha256[:12]}…) is missing from the image store")


@pytest.mark.slow
def test_a_comparisons_changed_images_open_at_full_size(page, fake_pets, tmp_path):
    version = make_dataset(tmp_path, "audit", MEMBERS)
    data = datasets_at(tmp_path)
    items = data.items(version)
    a = stored_run(data.store, version, items, ["cat", "dog", "other"], target="label:stable", answered=1)
    b = stored_run(data.store, version, items, ["cat", "cat", "other"], target="label:canary", answered=2)
    comparison = data.store.save_comparison(a, [b])
    app = page("compare", fake_pets.url)
    app.query_params["comparison"] = comparison.id
    app.run()
    assert not app.exception
    picker = app.selectbox(key="compare_0_cell_full")
    assert picker.options == ["g.png"]   # the one image whose top class changed
    picker.set_value("audit/cat/g.png").run()
    assert not app.exception
    assert "audit/cat/g.png" in [t.value for t in app.text]
    # A correction made on the comparison (every side) is offered back to the dataset too.
    for run_id in (a, b):
        data.store.set_correction(run_id, "audit/other/b.png", "dog")
    app.run()
    [offer] = [button for button in app.button if button.key == "compare_apply_corrections"]
    assert offer.label == "Apply 1 correction to dataset 'audit' → version 2".replace("'", "\\'")


def test_only_a_visitor_who_may_see_an_uploads_images_gets_an_opener(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVESCOPE_DB", str(tmp_path / "runs.db"))   # the app's store, as the pages open it
    store = open_store(tmp_path / "runs.db")
    rows = pd.DataFrame({"source": ["a.png"]}, index=[0])
    mine = Actor("b" * 64)
    upload = store.create_run(kind="classify", url="u", model="m", target="latest", total=1, keep_images=True,
                              started_by=mine.browser)
    assert full_image.image_opener(upload, rows, mine) is not None
    assert full_image.image_opener(upload, rows, Actor("c" * 64)) is None
    assert full_image.image_opener(upload, rows, Actor("c" * 64, operator=True)) is not None
    not_kept = store.create_run(kind="classify", url="u", model="m", target="latest", total=1, started_by=mine.browser)
    assert full_image.image_opener(not_kept, rows, mine) is None
    version = make_dataset(tmp_path, "shared", {"a.png": png_bytes(RED)}, truth="none")
    on_dataset = store.create_run(kind="classify", url="u", model="m", target="latest", total=1, dataset=version,
                                  started_by=mine.browser)
    opener = full_image.image_opener(on_dataset, rows, Actor("c" * 64))
    assert opener is not None and opener("a.png") == png_bytes(RED)
    with pytest.raises(Exception, match="no such image"):
        opener("b.png")
