"""A run's corrections offered back to its dataset: "Apply 2 corrections to dataset 'audit' → version 2" on the
Classify page of a run made on a dataset; one press makes that version (earlier versions stay), and the page then
says the dataset has them; a deleted dataset is said. AppTest, the test's own stores."""
from __future__ import annotations

import pytest

from client.store import open_store
from dashboard.ui import state
from tests.dashboard.datasets.support import datasets_at, make_dataset, stored_run, wait_run
from tests.dashboard.readable import plain, texts
from tests.support import png_bytes

MEMBERS = {"audit/cat/1.png": png_bytes((200, 10, 10)), "audit/cat/2.png": png_bytes((10, 200, 10)),
           "audit/dog/3.png": png_bytes((10, 10, 200))}
NAME = "audit <i>march</i>"


def open_run(page, url, run_id):
    app = page("classify", url)
    app.query_params["run"] = run_id
    app.run()
    assert not app.exception
    return app


def apply_button(app):
    return [b for b in app.button if b.key == "classify_apply_corrections"]


@pytest.mark.slow
def test_corrections_are_offered_and_applied_as_the_next_version(page, fake_pets, tmp_path):
    version = make_dataset(tmp_path, NAME, MEMBERS)
    data = datasets_at(tmp_path)
    run_id = stored_run(data.store, version, data.items(version), ["cat", "dog", "other"])
    data.store.set_correction(run_id, "audit/cat/2.png", "dog")     # the folder was wrong: it is a dog
    data.store.set_correction(run_id, "audit/dog/3.png", "other")
    data.store.set_correction(run_id, "audit/cat/1.png", "cat")      # what the dataset says already
    app = open_run(page, fake_pets.url, run_id)
    [button] = apply_button(app)
    assert plain(button.label) == f"Apply 2 corrections to dataset '{NAME}' → version 2"
    assert "\\<i\\>" in button.label   # the name's markup is escaped: plain text
    button.click().run()
    assert not app.exception
    assert texts(app.success)[-1] == f"Applied 2 corrections to dataset '{NAME}' → version 2."
    newest = data.get(NAME)
    assert newest.version == 2
    assert [(i.source, i.truth, i.corrected_by_run) for i in data.items(newest)] == [
        ("audit/cat/1.png", "cat", None), ("audit/cat/2.png", "dog", run_id), ("audit/dog/3.png", "other", run_id)]
    assert [i.truth for i in data.items(data.get(f"{NAME}@1"))] == ["cat", "cat", "dog"]   # version 1 stays
    assert not apply_button(app)
    assert f"dataset '{NAME}' version 2 already has this run's corrections." in texts(app.caption)


@pytest.mark.slow
def test_a_run_whose_dataset_was_deleted_says_its_corrections_have_nowhere_to_go(page, fake_pets, tmp_path):
    version = make_dataset(tmp_path, "gone", MEMBERS)
    data = datasets_at(tmp_path)
    run_id = stored_run(data.store, version, data.items(version), ["cat", "dog", "other"])
    data.store.set_correction(run_id, "audit/cat/2.png", "dog")
    data.delete("gone")
    app = open_run(page, fake_pets.url, run_id)
    assert not apply_button(app)
    assert "Dataset 'gone' was deleted: this run's corrections have no dataset to go to." in texts(app.caption)
    assert "Run on dataset gone@1 (deleted)." in texts(app.caption)


@pytest.mark.slow
def test_an_upload_run_offers_nothing(page, fake_pets, tmp_path):
    from tests.dashboard.test_pages import RED, png_upload
    app = page("classify", fake_pets.url).run()
    app.file_uploader[0].set_value([png_upload("a.png", RED), png_upload("b.png", RED)])
    app.run()
    app.button(key="classify_run").click().run()
    run_id = app.query_params["run"]
    run_id = run_id if isinstance(run_id, str) else run_id[0]
    wait_run(open_store(tmp_path / "runs.db"), run_id)
    assert state.run_manager().wait_thumbnails(run_id, 30)
    open_store(tmp_path / "runs.db").set_correction(run_id, "a.png", "dog")
    app.run()
    assert not app.exception
    assert not apply_button(app)
