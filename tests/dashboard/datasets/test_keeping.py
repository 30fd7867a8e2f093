"""Classify keeps an upload's images in the image store (once per content) unless the analyst ticks "Don't keep
images"; a full or unwritable image store is said on the run's page and the run still completes; an upload is
saved as a named dataset with its ground truth, and a name that exists takes an explicit "new version".

AppTest against the fake TF Serving (tests/support.py: a PNG's dominant channel names its class); each test has its
own run store and image store (the `page` fixture)."""
from __future__ import annotations

import hashlib

import pytest


from client.store import Datasets, open_image_store, open_store
from dashboard.runs.keeping import ImageKeeper
from dashboard.ui import state
from tests.dashboard.readable import plain, texts
from tests.dashboard.test_pages import BLUE, GREEN, RED, png_upload
from tests.support import png_bytes, zip_bytes


def store_of(tmp_path):
    return open_store(tmp_path / "runs.db")


def classify(app, files, *, dont_keep: bool = False) -> str:
    app.file_uploader[0].set_value(files)
    app.run()
    if dont_keep:
        app.checkbox(key="classify_dont_keep_images").check().run()
    app.button(key="classify_run").click().run()
    assert not app.exception
    value = app.query_params["run"]
    return value if isinstance(value, str) else value[0]


def finished(app, tmp_path, run_id: str):
    """The run ended, its thumbnails and kept images written, and the page drawn again."""
    from tests.support import wait_until
    store = store_of(tmp_path)
    wait_until(lambda: store.get_run(run_id).finished, timeout=60, what=f"run {run_id}")
    manager = state.run_manager()
    assert manager.wait_thumbnails(run_id, 60)
    if manager.keeper is not None:
        assert manager.keeper.wait(run_id, 60)
    app.run()
    assert not app.exception
    return store.get_run(run_id)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_an_upload_keeps_its_images_each_content_once(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    files = [png_upload("red.png", RED), png_upload("green.png", GREEN), png_upload("red-again.png", RED)]
    run = finished(app, tmp_path, classify(app, files))
    assert run.status == "complete" and run.keep_images
    images = open_image_store(store_of(tmp_path), tmp_path / "blobs")
    assert images.run_images(run.id) == {0: sha(png_bytes(RED)), 1: sha(png_bytes(GREEN)), 2: sha(png_bytes(RED))}
    assert (images.usage().images, images.usage().bytes) == (2, len(png_bytes(RED)) + len(png_bytes(GREEN)))
    assert "Images kept in the image store: 3 of 3." in texts(app.caption)
    data = Datasets(store_of(tmp_path), images)
    assert data.run_image(run.id, 1) == png_bytes(GREEN)
    assert [name for name, _ in data.run_items(run.id)] == ["red.png", "green.png", "red-again.png"]


@pytest.mark.slow
def test_dont_keep_images_keeps_none_and_says_so(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    run = finished(app, tmp_path, classify(app, [png_upload("red.png", RED)] * 1 + [png_upload("b.png", BLUE)],
                                           dont_keep=True))
    assert run.status == "complete" and not run.keep_images
    images = open_image_store(store_of(tmp_path), tmp_path / "blobs")
    assert images.run_images(run.id) == {} and images.usage().images == 0
    assert "This run's images were not kept (only its results and thumbnails)." in texts(app.caption)


@pytest.mark.slow
def test_a_full_image_store_is_said_and_the_run_completes(page, fake_pets, tmp_path):
    # 0.00005 MB = 50 bytes: no PNG (77 bytes) fits.
    app = page("classify", fake_pets.url, SERVESCOPE_BLOBS_QUOTA_MB="0.00005").run()
    run = finished(app, tmp_path, classify(app, [png_upload("red.png", RED), png_upload("green.png", GREEN)]))
    assert (run.status, run.done, run.errors) == ("complete", 2, 0)
    [warning] = texts(app.warning)
    size = len(png_bytes(RED))
    assert warning.startswith(
        f"Only 0 of 2 image(s) were kept in the image store: the image store is full: red.png ({size} bytes) does "
        "not fit, 0 bytes of its 50 bytes quota are used")
    assert warning.endswith("the images not kept cannot be opened at full size or compared again without a new "
                            "upload.")
    assert open_image_store(store_of(tmp_path), tmp_path / "blobs").run_images(run.id) == {}


@pytest.mark.slow
def test_an_unwritable_image_store_is_said_and_the_run_completes(page, fake_pets, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the image store's folder should be")
    app = page("classify", fake_pets.url, SERVESCOPE_BLOBS=str(blocker / "blobs")).run()
    run = finished(app, tmp_path, classify(app, [png_upload("red.png", RED)]))
    assert (run.status, run.done, run.errors) == ("complete", 1, 0)
    [warning] = texts(app.warning)
    assert warning.startswith("Only 0 of 1 image(s) were kept in the image store: could not store red.png in the "
                              "image store: not a directory.")
    assert str(tmp_path) not in warning


@pytest.mark.slow
def test_the_compare_offer_says_why_when_the_images_were_not_kept(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    run = finished(app, tmp_path, classify(app, [png_upload("red.png", RED), png_upload("b.png", BLUE)],
                                           dont_keep=True))
    state.run_manager().release(run.id, "as after a restart")
    app.run()
    assert ("Comparing these images with other versions is not offered: this run did not keep its images "
            "(\"Don't keep images\" was ticked, or no image store was open).") in texts(app.caption)
    assert not [b for b in app.button if b.key == "classify_compare"]


@pytest.mark.slow
def test_kept_images_are_offered_for_comparison_after_the_uploads_are_let_go(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    run = finished(app, tmp_path, classify(app, [png_upload("red.png", RED), png_upload("b.png", BLUE)]))
    state.run_manager().release(run.id, "as after a restart")
    app.run()
    assert [b.label for b in app.button if b.key == "classify_compare"] == ["Compare these images with other "
                                                                            "versions…"]
    items = state.run_manager().items_of(run.id)
    assert [(name, load()) for name, load in items] == [("red.png", png_bytes(RED)), ("b.png", png_bytes(BLUE))]


# -- saving an upload as a dataset ------------------------------------------------------------------------------
LABELLED = {"audit/cat/r1.png": png_bytes(RED), "audit/dog/g1.png": png_bytes(GREEN),
            "audit/other/b1.png": png_bytes(BLUE), "audit/cat/r2.png": png_bytes((220, 30, 30))}
NAME = "<b>march</b> & co [x](http://example.com)"


def save(app, name: str) -> None:
    [box] = [t for t in app.text_input if t.label == "Dataset name"]
    box.set_value(name).run()


def test_an_upload_is_saved_as_a_dataset_with_its_truth_and_a_taken_name_needs_new_version(page, fake_pets,
                                                                                            tmp_path):
    app = page("classify", fake_pets.url).run()
    app.file_uploader[0].set_value([("audit.zip", zip_bytes(LABELLED), "application/zip")])
    app.run()
    save(app, NAME)
    [button] = [b for b in app.button if b.label == "Save as dataset"]
    button.click().run()
    assert not app.exception
    data = Datasets(store_of(tmp_path), open_image_store(store_of(tmp_path), tmp_path / "blobs"))
    version = data.get(NAME)
    assert (version.name, version.version, version.images, version.truth_known) == (NAME, 1, 4, 4)
    assert [(i.source, i.truth) for i in data.items(version)] == [
        ("audit.zip/audit/cat/r1.png", "cat"), ("audit.zip/audit/cat/r2.png", "cat"),
        ("audit.zip/audit/dog/g1.png", "dog"), ("audit.zip/audit/other/b1.png", "other")]   # as the upload lists them
    [success] = [plain(s.value) for s in app.success]
    assert success == (f"created dataset '{NAME}': 4 image(s), truth for 4; 4 stored (0.0 MB), 0 already in the "
                       "image store.")
    assert "<b>" not in app.success[0].value.replace("\\<b\\>", "")   # escaped: plain text, not markup
    # The same name again: refused until a new version is asked for, explicitly.
    app.file_uploader[0].set_value([("more.zip", zip_bytes({"x/dog/g2.png": png_bytes((20, 210, 20))}),
                                     "application/zip")])
    app.run()
    save(app, NAME)
    assert texts(app.warning)[-1] == f"A dataset named '{NAME}' exists (version 1, 4 image(s))."
    [button] = [b for b in app.button if b.label == "Save as dataset"]
    assert button.disabled
    [new_version] = [c for c in app.checkbox if c.label.startswith("Make version 2 of it")]
    new_version.check().run()
    [button] = [b for b in app.button if b.label == "Save as dataset"]
    button.click().run()
    assert not app.exception
    second = data.get(NAME)
    assert (second.version, second.images, second.truth_known) == (2, 1, 1)
    assert data.get(f"{NAME}@1").images == 4   # the first version is unchanged


def test_saving_into_a_full_image_store_is_refused_and_keeps_nothing(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url, SERVESCOPE_BLOBS_QUOTA_MB="0.00005").run()
    app.file_uploader[0].set_value([png_upload("red.png", RED)])
    app.run()
    save(app, "full")
    [button] = [b for b in app.button if b.label == "Save as dataset"]
    button.click().run()
    assert not app.exception
    [error] = texts(app.error)
    assert error.startswith("The dataset was not saved: the image store is full: red.png (")
    images = open_image_store(store_of(tmp_path), tmp_path / "blobs")
    assert images.usage().images == 0
    assert Datasets(store_of(tmp_path), images).summaries() == []


def test_the_keeper_skips_an_unreadable_image_and_keeps_the_rest(tmp_path):
    store = open_store(tmp_path / "runs.db")
    images = open_image_store(store, tmp_path / "blobs", quota_bytes=None)
    run = store.create_run(kind="classify", url="http://x", model="m", target="latest", total=3, keep_images=True)

    def broken() -> bytes:
        raise OSError("gone")
    keeper = ImageKeeper(images, batch_images=1)
    try:
        keeper.keep(run.id, [("a.png", lambda: png_bytes(RED)), ("b.png", broken), ("c.png", lambda: b"")])
        assert keeper.wait(run.id, 30)
        status = keeper.status(run.id)
        assert (status.kept, status.unreadable, status.error, status.done) == (1, 2, None, True)
        assert status.text() == "Images kept in the image store: 1 of 3 (2 could not be read again)."
        assert images.run_images(run.id) == {0: sha(png_bytes(RED))}
    finally:
        keeper.shutdown()


@pytest.mark.slow
def test_deleting_a_run_on_history_deletes_the_images_only_it_kept(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    first = finished(app, tmp_path, classify(app, [png_upload("red.png", RED), png_upload("green.png", GREEN)]))
    second = finished(app, tmp_path, classify(app, [png_upload("red-too.png", RED)]))
    images = open_image_store(store_of(tmp_path), tmp_path / "blobs")
    assert images.usage().images == 2
    app.switch_page("app_pages/history.py").run()
    app.multiselect(key="history_stored_delete_selected").select(first.id).run()
    app.button(key="history_stored_delete").click().run()
    app.button(key="history_stored_delete_yes").click().run()
    assert not app.exception
    assert store_of(tmp_path).get_run(first.id) is None
    assert images.usage().images == 1   # green.png went with its run; red.png is the other run's too
    assert images.run_images(second.id) == {0: sha(png_bytes(RED))}
