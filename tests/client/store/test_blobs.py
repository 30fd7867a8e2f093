"""The image store on a local folder and on a real S3-compatible server (moto, started here on loopback), indexed in
SQLite and in a live PostgreSQL: each photo stored once, read back checked against its hash, the quota, lost and
damaged objects, unwritable stores, and deletion of exactly the images nothing uses."""
from __future__ import annotations

import hashlib
import sys
import threading

import pytest
from sqlalchemy import delete

from client.store import StoreError
from client.store.blobs import FsspecBlobs, LocalBlobs, blob_key, blobs_location, open_blobs
from client.store.images import (ImageStoreError, ImageStoreFullError, MissingImageError, open_image_store,
                                 quota_from_env)
from client.store.tables import blobs
from tests.support import png_bytes

RED, BLUE = png_bytes((250, 5, 5)), png_bytes((5, 5, 250), size=(16, 16))
RED_SHA, BLUE_SHA = hashlib.sha256(RED).hexdigest(), hashlib.sha256(BLUE).hexdigest()


def test_the_same_photo_is_stored_once_and_read_back(image_store):
    stored = image_store.put_many([("a/cat.png", RED), ("b/copy.png", RED), ("dog.png", BLUE)])
    assert [(s.name, s.sha256, s.size_bytes, s.new) for s in stored] == [
        ("a/cat.png", RED_SHA, len(RED), True), ("b/copy.png", RED_SHA, len(RED), False),
        ("dog.png", BLUE_SHA, len(BLUE), True)]
    again = image_store.put("c/cat-again.png", RED)
    assert (again.sha256, again.new) == (RED_SHA, False)
    usage = image_store.usage()
    assert (usage.images, usage.bytes) == (2, len(RED) + len(BLUE))
    assert image_store.read(RED_SHA, "a/cat.png") == RED
    assert image_store.loader(BLUE_SHA, "dog.png")() == BLUE
    assert image_store.backend.size(blob_key(RED_SHA)) == len(RED)


def test_a_lost_object_names_its_image_and_storing_it_again_restores_it(image_store):
    image_store.put("cat.png", RED)
    image_store.backend.delete([blob_key(RED_SHA)])
    with pytest.raises(MissingImageError) as lost:
        image_store.read(RED_SHA, "audit/cat.png")
    assert str(lost.value) == f"audit/cat.png: its image (sha256 {RED_SHA[:12]}…) is missing from the image store"
    assert image_store.put("cat.png", RED).new is True     # the index listed it, the store had lost it
    assert image_store.read(RED_SHA, "cat.png") == RED


def test_a_damaged_object_is_refused_naming_the_image_and_rewritten_by_the_next_upload(image_store):
    image_store.put("cat.png", RED)
    image_store.backend.write({blob_key(RED_SHA): b"not the photo"})
    with pytest.raises(ImageStoreError, match=r"^cat\.png: its image in the image store is damaged \(its bytes no "
                                              rf"longer match sha256 {RED_SHA[:12]}…\)$"):
        image_store.read(RED_SHA, "cat.png")
    assert image_store.put("cat.png", RED).new is True
    assert image_store.read(RED_SHA, "cat.png") == RED


def test_the_quota_refuses_an_image_that_does_not_fit_and_stores_nothing_of_its_batch(image_store):
    image_store.quota_bytes = len(RED) + 10
    image_store.put("cat.png", RED)
    with pytest.raises(ImageStoreFullError) as full:
        image_store.put_many([("again.png", RED), ("dog.png", BLUE)])
    assert str(full.value) == (
        "the image store is full: dog.png (82 bytes) does not fit, 77 bytes of its 87 bytes quota are used (1 new "
        "image(s) in this batch); delete datasets or runs that kept their images, or raise SERVESCOPE_BLOBS_QUOTA_MB")
    assert (len(RED), len(BLUE)) == (77, 82)
    assert (image_store.usage().images, image_store.backend.size(blob_key(BLUE_SHA))) == (1, None)
    assert image_store.put("same-bytes.png", RED).new is False   # no new bytes: fits whatever the quota


def test_concurrent_uploads_of_the_same_photo_store_it_once(image_store):
    errors: list[BaseException] = []

    def upload(number: int) -> None:
        try:
            image_store.put(f"copy{number}.png", RED)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=upload, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (image_store.usage().images, image_store.read(RED_SHA, "copy0.png")) == (1, RED)


def new_run(store, *, keep_images: bool):
    return store.create_run(kind="classify", url="http://127.0.0.1:8501", model="pets", target="latest", total=2,
                            keep_images=keep_images)


def test_unused_images_are_deleted_and_kept_ones_stay_until_their_run_goes(image_store):
    store = image_store.store
    run = new_run(store, keep_images=True)
    image_store.put("loose.png", BLUE)
    assert image_store.keep_run_images(run.id, {0: ("r/cat.png", RED), 1: ("r/cat-copy.png", RED)}) == 2
    assert image_store.run_images(run.id) == {0: RED_SHA, 1: RED_SHA}
    assert image_store.collect_garbage() == [BLUE_SHA]
    assert image_store.backend.size(blob_key(BLUE_SHA)) is None
    with pytest.raises(StoreError):  # the database itself refuses to forget an image a run keeps
        with store._write("delete a kept image's row") as conn:
            conn.execute(delete(blobs).where(blobs.c.sha256 == RED_SHA))
    assert image_store.read(RED_SHA, "r/cat.png") == RED
    store.finish_run(run.id, "complete")
    assert store.delete_run(run.id) is True
    assert image_store.collect_garbage([RED_SHA, BLUE_SHA]) == [RED_SHA]
    assert (image_store.usage().images, image_store.backend.size(blob_key(RED_SHA))) == (0, None)


def test_a_run_whose_images_are_not_kept_stores_none(image_store):
    run = new_run(image_store.store, keep_images=False)
    assert image_store.store.get_run(run.id).keep_images is False
    with pytest.raises(ValueError, match=f"run {run.id} does not keep its images"):
        image_store.keep_run_images(run.id, {0: ("cat.png", RED)})
    assert image_store.usage().images == 0


# -- the local folder and the object store's own failures ------------------------------------------------------------
def test_an_unwritable_local_store_names_the_image(any_store, tmp_path):
    (tmp_path / "blobs").write_text("a file where the image store's folder should be")
    images = open_image_store(any_store, tmp_path / "blobs", quota_bytes=None)
    with pytest.raises(ImageStoreError, match=r"^could not store audit/cat\.png \(and 1 other image\(s\)\) in the "
                                              r"image store: not a directory$"):
        images.put_many([("audit/cat.png", RED), ("audit/dog.png", BLUE)])
    assert images.usage().images == 0


def test_a_missing_bucket_names_the_image(any_store, s3_server):
    images = open_image_store(any_store, "s3://no-such-bucket/x", quota_bytes=None, **s3_server.options)
    with pytest.raises(ImageStoreError, match=r"^could not store cat\.png in the image store: the specified bucket "
                                              r"does not exist$"):
        images.put("cat.png", RED)
    assert images.usage().images == 0


def test_an_object_store_without_its_extra_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    with pytest.raises(StoreError, match=r"^the image store s3:// needs fsspec: pip install "
                                         r"'servescope\[objectstore\]'$"):
        open_blobs("s3://bucket/prefix")


def test_an_object_store_without_its_file_system_package_says_which():
    pytest.importorskip("fsspec")
    if "gcsfs" in sys.modules or _installed("gcsfs"):
        pytest.skip("gcsfs is installed here")
    with pytest.raises(StoreError, match=r"^the image store gs:// needs a package that is not installed \(.*gcsfs"):
        open_blobs("gs://bucket/prefix")


def _installed(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


def test_where_the_images_go(tmp_path, monkeypatch, s3_server):
    monkeypatch.delenv("SERVESCOPE_BLOBS", raising=False)
    monkeypatch.setenv("SERVESCOPE_DATA_DIR", str(tmp_path / "data"))
    assert blobs_location() == str(tmp_path / "data" / "blobs")       # next to the default run store
    local = open_blobs()
    assert isinstance(local, LocalBlobs) and local.root == tmp_path / "data" / "blobs"
    monkeypatch.setenv("SERVESCOPE_BLOBS", f"file://{tmp_path}/elsewhere")
    assert open_blobs().root == tmp_path / "elsewhere"
    remote = open_blobs(f"s3://{s3_server.bucket}/team/images", **s3_server.options)
    assert isinstance(remote, FsspecBlobs) and remote.prefix == f"{s3_server.bucket}/team/images"
    assert blob_key(RED_SHA) == f"{RED_SHA[:2]}/{RED_SHA[2:4]}/{RED_SHA}"
    with pytest.raises(ValueError, match="not a hex SHA-256"):
        blob_key("../../etc/passwd")


@pytest.mark.parametrize("value, expected", [("", None), ("500", 500_000_000), ("2.5", 2_500_000)])
def test_the_quota_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("SERVESCOPE_BLOBS_QUOTA_MB", value)
    assert quota_from_env() == expected


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf", "nan"])
def test_a_bad_quota_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("SERVESCOPE_BLOBS_QUOTA_MB", value)
    with pytest.raises(StoreError, match=f"^SERVESCOPE_BLOBS_QUOTA_MB must be a number of megabytes > 0, not "
                                         f"'{value}'$"):
        quota_from_env()
