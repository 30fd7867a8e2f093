"""Datasets on SQLite and a live PostgreSQL, their images on a local folder and on S3 (moto): versions that never
change once made, names that are plain text, inputs that cost only their own item when unreadable, a full store
that keeps nothing of a failed build, deletion of exactly the unshared images, corrections offered back as a new
version, listings, exports, and runs that outlive their dataset."""
from __future__ import annotations

import hashlib
import io
import json

import pandas as pd
import pytest

from client.sources import expand_sources, expand_uploads
from client.store import (DatasetError, DatasetExistsError, DatasetNotFoundError, Datasets, ImageStoreFullError,
                          MissingImageError, open_store)
from client.store import datasets as datasets_module
from client.store.blobs import blob_key
from client.store.images import open_image_store
from client.truth import read_truth_file
from tests.client.store.test_store import V2_RUN, database_at
from tests.support import png_bytes

RED, GREEN, BLUE = png_bytes((250, 5, 5)), png_bytes((5, 250, 5)), png_bytes((5, 5, 250))
SHA = {data: hashlib.sha256(data).hexdigest() for data in (RED, GREEN, BLUE)}


@pytest.fixture
def data(any_store, tmp_path):
    """Datasets on SQLite and PostgreSQL, images in a local folder."""
    return Datasets(any_store, open_image_store(any_store, tmp_path / "blobs", quota_bytes=None))


@pytest.fixture
def data_everywhere(image_store):
    """Datasets on SQLite and PostgreSQL, images in a local folder and on S3."""
    return Datasets(image_store.store, image_store)


def upload(*pairs: tuple[str, bytes]):
    return list(expand_uploads(pairs))


def photo_folder(root, files: dict[str, bytes]):
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def item_rows(data, reference):
    return [(i.position, i.source, i.truth, i.sha256) for i in data.items(data.get(reference))]


def test_a_dataset_stores_each_photo_once_with_its_truth(data_everywhere, tmp_path):
    folder = photo_folder(tmp_path / "audit", {"cat/a.png": RED, "cat/b.png": RED, "Dogs/c.png": GREEN})
    build = data_everywhere.create("march-audit", expand_sources([folder]), truth="folders")
    assert (build.version.version, build.version.images, build.version.truth_known) == (1, 3, 3)
    assert (build.added, build.stored_images, build.stored_bytes, build.failed) == (3, 2, len(RED) + len(GREEN), ())
    assert build.text() == ("created dataset 'march-audit': 3 image(s), truth for 3; 2 stored (0.0 MB), 1 already in "
                            "the image store")
    assert item_rows(data_everywhere, "march-audit") == [
        (0, f"{folder}/Dogs/c.png", "Dogs", SHA[GREEN]), (1, f"{folder}/cat/a.png", "cat", SHA[RED]),
        (2, f"{folder}/cat/b.png", "cat", SHA[RED])]
    assert data_everywhere.images.usage().images == 2
    loaded = [(name, load()) for name, load in data_everywhere.sources(data_everywhere.get("march-audit"))]
    assert loaded == [(f"{folder}/Dogs/c.png", GREEN), (f"{folder}/cat/a.png", RED), (f"{folder}/cat/b.png", RED)]


def never_read():
    raise AssertionError("the images were read although the name was taken")
    yield  # pragma: no cover


def test_a_taken_name_is_refused_unless_a_new_version_is_asked_for(data):
    data.create("audit", upload(("cat/1.png", RED), ("dog/2.png", GREEN)), truth="folders")
    with pytest.raises(DatasetExistsError) as taken:
        data.create("audit", never_read())
    assert str(taken.value) == ("a dataset named 'audit' exists (version 1); ask for a new version (--new-version) to "
                                "make version 2 of it, or choose another name")
    with pytest.raises(ValueError, match=r"^truth must be one of \['folders', 'names', 'none'\] or a truth table, "
                                         r"not 'auto'$"):
        data.create("audit", never_read(), truth="auto", new_version=True)
    second = data.create("audit", upload(("x/3.png", BLUE)), truth="names", new_version=True)
    assert (second.version.version, second.version.images) == (2, 1)
    assert item_rows(data, "audit") == [(0, "x/3.png", None, SHA[BLUE])]   # "3" has no leading word
    assert item_rows(data, "audit@1") == [(0, "cat/1.png", "cat", SHA[RED]), (1, "dog/2.png", "dog", SHA[GREEN])]
    assert [(v.version, v.images, v.note) for v in data.versions("audit")] == [
        (1, 2, "created from 2 image(s)"), (2, 1, "replaced by 1 image(s)")]


def test_adding_images_makes_a_new_version_and_the_old_one_stays(data):
    data.create("audit", upload(("cat/1.png", RED), ("dog/2.png", GREEN)), truth="folders")
    build = data.add_images("audit", upload(("dog/2.png", BLUE), ("other/3.png", RED)), truth="folders")
    assert (build.version.version, build.added, build.replaced, build.stored_images) == (2, 1, 1, 1)
    assert item_rows(data, "audit@2") == [(0, "cat/1.png", "cat", SHA[RED]), (1, "dog/2.png", "dog", SHA[BLUE]),
                                          (2, "other/3.png", "other", SHA[RED])]
    assert item_rows(data, "audit@1") == [(0, "cat/1.png", "cat", SHA[RED]), (1, "dog/2.png", "dog", SHA[GREEN])]
    with pytest.raises(DatasetNotFoundError, match="^no dataset named 'nope'$"):
        data.add_images("nope", upload(("a.png", RED)))
    with pytest.raises(DatasetNotFoundError, match="^dataset 'audit' has no version 7$"):
        data.get("audit@7")


NAMES = ["../../etc/passwd", "<b>bold</b> & 'quoted' [link](javascript:x)", r"C:\temp\x", "team@2026", "x" * 200,
         "  spaced  "]


def test_names_are_plain_text_never_paths(data, tmp_path):
    for number, name in enumerate(NAMES):
        data.create(name, upload((f"{number}.png", RED)))
    assert [summary.name for summary in data.summaries()] == sorted([*NAMES[:-1], "spaced"])
    assert data.get("team@2026").name == "team@2026"           # the exact name wins over NAME@VERSION
    assert data.get("spaced").images == 1
    # Nothing was written by name: the only files are the SQLite store's and the one image's object.
    assert {p.name for p in tmp_path.iterdir()} - {"runs.db", "runs.db-wal", "runs.db-shm"} == {"blobs"}
    assert [str(p.relative_to(tmp_path)) for p in sorted((tmp_path / "blobs").rglob("*")) if p.is_file()] == [
        f"blobs/{blob_key(SHA[RED])}"]
    assert not (tmp_path.parent / "etc").exists()


@pytest.mark.parametrize("name, message", [
    ("", "a dataset name cannot be empty"), ("   ", "a dataset name cannot be empty"),
    ("x" * 201, "a dataset name is at most 200 characters; this one has 201"),
    ("a\nb", "a dataset name cannot contain control characters (newlines, tabs, NUL …): 'a\\nb'"),
    ("a\x00b", "a dataset name cannot contain control characters (newlines, tabs, NUL …): 'a\\x00b'")])
def test_a_name_is_refused_only_when_empty_too_long_or_unprintable(data, name, message):
    with pytest.raises(DatasetError) as refused:
        data.create(name, never_read())
    assert str(refused.value) == message
    assert data.summaries() == []


def test_unreadable_inputs_are_listed_and_the_rest_is_stored(data, tmp_path):
    def broken():
        raise OSError("batch.zip/cat/x.jpg: unreadable ZIP member (BadZipFile: Bad CRC-32)")
    items = [("cat/ok.png", lambda: RED), ("batch.zip/cat/x.jpg", broken), ("empty.png", lambda: b""),
             ("cat/ok.png", lambda: GREEN), *expand_sources([tmp_path / "nope.jpg"])]
    build = data.create("audit", items, truth="folders")
    assert build.failed == ("batch.zip/cat/x.jpg: unreadable ZIP member (BadZipFile: Bad CRC-32)",
                            "empty.png: empty file (0 bytes), not an image",
                            "cat/ok.png: listed twice; the first is kept",
                            f"{tmp_path / 'nope.jpg'}: no such file or folder")
    assert item_rows(data, "audit") == [(0, "cat/ok.png", "cat", SHA[RED])]
    with pytest.raises(DatasetError, match=r"^no image could be stored: empty\.png: empty file \(0 bytes\), not an "
                                           r"image \(and 1 more\)$"):
        data.create("nothing", [("empty.png", lambda: b""), ("broken.jpg", broken)])
    assert [s.name for s in data.summaries()] == ["audit"]


def test_over_the_image_limit_the_rest_is_not_read(data, monkeypatch):
    monkeypatch.setattr(datasets_module, "MAX_DATASET_IMAGES", 2)
    build = data.create("audit", upload(("a.png", RED), ("b.png", GREEN), ("c.png", BLUE), ("d.png", RED)))
    assert (build.version.images, build.failed) == (
        2, ("c.png and any after it: over the limit of 2 images per dataset; not read",))


def test_a_full_image_store_fails_the_build_and_keeps_none_of_its_new_images(data, monkeypatch):
    data.create("old", upload(("cat.png", RED)))
    monkeypatch.setattr(datasets_module, "_BATCH_IMAGES", 1)          # GREEN is stored before BLUE is refused
    data.images.quota_bytes = len(RED) + len(GREEN) + 10
    with pytest.raises(ImageStoreFullError, match=r"^the image store is full: blue\.png \(77 bytes\) does not fit"):
        data.create("new", upload(("red.png", RED), ("green.png", GREEN), ("blue.png", BLUE)))
    assert [s.name for s in data.summaries()] == ["old"]
    assert (data.images.usage().images, data.images.backend.size(blob_key(SHA[GREEN]))) == (1, None)
    assert data.images.read(SHA[RED], "cat.png") == RED              # the other dataset's image is untouched


def run_on(data, version, *, keep_images=False):
    return data.store.create_run(kind="classify", url="http://127.0.0.1:8501", model="pets", target="latest",
                                 total=version.images if version else 1, class_names=("cat", "dog", "other"),
                                 dataset=version, keep_images=keep_images)


def test_deleting_a_dataset_deletes_only_the_images_nothing_else_uses(data_everywhere):
    data = data_everywhere
    first = data.create("first", upload(("r.png", RED), ("g.png", GREEN), ("b.png", BLUE))).version
    data.create("second", upload(("same-red.png", RED)))
    kept = run_on(data, None, keep_images=True)
    data.images.keep_run_images(kept.id, {0: ("upload/b.png", BLUE)})
    on_first = run_on(data, first)
    deleted = data.delete("first")
    assert (deleted.name, deleted.versions, deleted.images_deleted) == ("first", 1, 1)
    assert data.images.backend.size(blob_key(SHA[GREEN])) is None
    assert (data.images.read(SHA[RED], "r"), data.images.read(SHA[BLUE], "b")) == (RED, BLUE)
    assert [s.name for s in data.summaries()] == ["second"]
    with pytest.raises(DatasetNotFoundError, match="^no dataset named 'first'$"):
        data.delete("first")
    # The run made on it stays, says which dataset it used, and finds it gone.
    run = data.store.get_run(on_first.id)
    assert (run.dataset_id, run.dataset_version, run.dataset_name) == (first.dataset_id, 1, "first")
    assert data.find(first.dataset_id) is None
    with pytest.raises(MissingImageError, match=rf"^the dataset of run {run.id} \('first'\) was deleted: its images "
                                                r"are gone$"):
        data.run_items(run.id)


def test_a_deletion_between_storing_and_saving_is_repaired(data, monkeypatch):
    original = Datasets._take

    def take_then_collect(self, items):
        taken = original(self, items)
        assert sorted(self.images.collect_garbage()) == sorted({SHA[RED], SHA[GREEN]})  # unused until saved
        return taken
    monkeypatch.setattr(Datasets, "_take", take_then_collect)
    build = data.create("audit", upload(("r.png", RED), ("g.png", GREEN)))
    assert build.version.images == 2
    assert [load() for _, load in data.sources(build.version)] == [RED, GREEN]


def test_the_listing_gives_size_class_balance_truth_coverage_and_runs(data):
    one = data.create("audit", upload(("cat/1.png", RED), ("cat/2.png", GREEN), ("dog/3.png", BLUE),
                                      ("4.png", RED)), truth="folders").version
    data.create("empty truth", upload(("a.png", GREEN)))
    run_on(data, one)
    run_on(data, one)
    summaries = {s.name: s for s in data.summaries()}
    audit = summaries["audit"]
    assert (audit.latest_version, audit.images, audit.bytes, audit.truth_known, dict(audit.class_balance),
            audit.runs, audit.truth_coverage) == (1, 4, 2 * len(RED) + len(GREEN) + len(BLUE), 3,
                                                  {"cat": 2, "dog": 1}, 2, 0.75)
    other = summaries["empty truth"]
    assert (other.images, other.truth_known, dict(other.class_balance), other.runs) == (1, 0, {}, 0)
    assert [r.run.dataset_version for r in data.runs(one)] == [1, 1]


def test_a_runs_corrections_become_the_next_version(data):
    first = data.create("audit", upload(("cat/1.png", RED), ("cat/2.png", GREEN), ("dog/3.png", BLUE)),
                        truth="folders").version
    run = run_on(data, first)
    data.store.add_rows(run.id, [{"position": p, "source": s, "top_class": "cat", "confidence": 0.9}
                                 for p, s in enumerate(["cat/1.png", "cat/2.png", "dog/3.png"])])
    data.store.set_correction(run.id, "cat/1.png", "cat")      # the truth already
    data.store.set_correction(run.id, "cat/2.png", "dog")      # a change
    data.store.set_correction(run.id, "dog/3.png", "other")    # its image is replaced in version 2
    data.add_images("audit", upload(("dog/3.png", RED)), truth="folders")
    plan = data.correction_plan(run.id)
    assert (plan.corrections, plan.unchanged, plan.not_found, plan.version) == (1, 1, ("dog/3.png",), None)
    assert plan.text() == "apply 1 correction to dataset 'audit' → version 3"
    applied = data.apply_corrections(run.id)
    assert applied.text() == "applied 1 correction to dataset 'audit' → version 3"
    assert [(i.source, i.truth, i.corrected_by_run) for i in data.items(data.get("audit"))] == [
        ("cat/1.png", "cat", None), ("cat/2.png", "dog", run.id), ("dog/3.png", "dog", None)]
    assert data.get("audit").note == f"1 correction from run {run.id}"
    assert item_rows(data, "audit@1")[1][2] == "cat"            # version 1 keeps its truth
    again = data.apply_corrections(run.id)
    assert (again.version, again.text()) == (None, "dataset 'audit' version 3 already has this run's corrections")
    upload_run = run_on(data, None)
    assert data.correction_plan(upload_run.id) is None
    with pytest.raises(DatasetError, match=f"^run {upload_run.id} was not made on a dataset"):
        data.apply_corrections(upload_run.id)


def test_exports_in_three_formats_and_the_csv_is_a_truth_file(data):
    version = data.create("audit", upload(("cat/1.png", RED), ("=cmd/2.png", GREEN)), truth="folders").version
    lines = data.export(version, "csv").decode().splitlines()
    assert lines == ["dataset,version,position,source,truth,sha256,size_bytes,corrected_by_run",
                     f"audit,1,0,cat/1.png,cat,{SHA[RED]},{len(RED)},",
                     f"audit,1,1,'=cmd/2.png,'=cmd,{SHA[GREEN]},{len(GREEN)},"]   # formula-safe cells
    records = [json.loads(line) for line in data.export(version, "jsonl").decode().splitlines()]
    assert [(r["source"], r["truth"], r["position"]) for r in records] == [("cat/1.png", "cat", 0),
                                                                          ("=cmd/2.png", "=cmd", 1)]
    frame = pd.read_parquet(io.BytesIO(data.export(version, "parquet")))
    assert list(frame.columns) == ["dataset", "version", "position", "source", "truth", "sha256", "size_bytes",
                                   "corrected_by_run"]
    assert frame["size_bytes"].tolist() == [len(RED), len(GREEN)]
    table = read_truth_file("audit.csv", data.export(version, "csv"))
    rebuilt = data.create("from export", upload(("cat/1.png", RED), ("=cmd/2.png", GREEN)), truth=table).version
    assert [i.truth for i in data.items(rebuilt)] == ["cat", "=cmd"]
    with pytest.raises(ValueError, match="export format must be one of"):
        data.export(version, "xlsx")


def test_the_images_of_stored_runs(data):
    version = data.create("audit", upload(("a.png", RED), ("b.png", GREEN))).version
    on_dataset = run_on(data, version)
    assert [(name, load()) for name, load in data.run_items(on_dataset.id)] == [("a.png", RED), ("b.png", GREEN)]
    assert data.run_image(on_dataset.id, 1) == GREEN
    kept = run_on(data, None, keep_images=True)
    data.store.add_rows(kept.id, [{"position": 0, "source": "up/blue.png", "top_class": "other"}])
    data.images.keep_run_images(kept.id, {0: ("up/blue.png", BLUE), 1: ("up/red.png", RED)})
    assert [(name, load()) for name, load in data.run_items(kept.id)] == [
        ("up/blue.png", BLUE), (f"image 1 of run {kept.id}", RED)]
    with pytest.raises(MissingImageError, match=f"^run {kept.id} has no image at position 5$"):
        data.run_image(kept.id, 5)
    not_kept = run_on(data, None)
    with pytest.raises(MissingImageError, match=f"^run {not_kept.id} did not keep its images$"):
        data.run_items(not_kept.id)


def test_a_version_5_database_gains_datasets_and_its_runs_their_columns(tmp_path):
    path = tmp_path / "v5.db"
    database_at(path, 5, V2_RUN.format(id="old", digest="NULL"))
    store = open_store(path)
    old = store.get_run("old")
    assert (old.dataset_id, old.dataset_version, old.dataset_name, old.keep_images) == (None, None, None, False)
    data = Datasets(store, open_image_store(store, tmp_path / "blobs", quota_bytes=None))
    version = data.create("audit", upload(("a.png", RED))).version
    assert run_on(data, version).dataset_name == "audit"
    assert store.list_runs(dataset_id=version.dataset_id)[0].run.dataset_version == 1
    store.close()
