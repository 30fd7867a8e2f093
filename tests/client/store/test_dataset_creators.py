"""Who created a dataset (`datasets.created_by`, schema version 9) on SQLite and a live PostgreSQL: the digest given
at creation is listed and read back, every later version (added images, a replacement, applied corrections) keeps
it, the CLI's datasets have none, a database of version 8 gains the column with NULL for its datasets, and a
deletion by id refuses a name that now belongs to another dataset."""
from __future__ import annotations

import hashlib

import pytest

from client.store import DatasetNotFoundError, Datasets, open_store
from client.store.images import open_image_store
from client.store.tables import SCHEMA_VERSION
from tests.client.store.test_datasets import BLUE, GREEN, RED, run_on, upload
from tests.client.store.test_store import V2_RUN, database_at

CREATOR = hashlib.sha256(b"the creating browser's token").hexdigest()
OTHER = hashlib.sha256(b"another browser's token").hexdigest()


@pytest.fixture
def data(any_store, tmp_path):
    return Datasets(any_store, open_image_store(any_store, tmp_path / "blobs", quota_bytes=None))


def creators(data) -> dict[str, str | None]:
    return {summary.name: summary.created_by for summary in data.summaries()}


def test_a_datasets_creator_is_kept_by_every_later_version(data):
    first = data.create("audit", upload(("cat/1.png", RED), ("cat/2.png", GREEN)), truth="folders",
                        created_by=CREATOR).version
    data.create("from the cli", upload(("a.png", BLUE)))
    assert (first.created_by, data.get("from the cli").created_by) == (CREATOR, None)
    assert creators(data) == {"audit": CREATOR, "from the cli": None}
    # Another browser adds images, replaces them, applies a run's corrections: the creator stays.
    data.add_images("audit", upload(("dog/3.png", BLUE)), truth="folders")
    data.create("audit", upload(("cat/1.png", RED), ("cat/2.png", GREEN)), truth="folders", new_version=True,
                created_by=OTHER)
    run = run_on(data, data.get("audit"))
    data.store.add_rows(run.id, [{"position": 0, "source": "cat/1.png", "top_class": "dog", "confidence": 0.9}])
    data.store.set_correction(run.id, "cat/1.png", "dog")
    assert data.apply_corrections(run.id).version == 4
    assert [(v.version, v.created_by) for v in data.versions("audit")] == [(1, CREATOR), (2, CREATOR), (3, CREATOR),
                                                                           (4, CREATOR)]
    assert creators(data) == {"audit": CREATOR, "from the cli": None}
    assert data.find(first.dataset_id).created_by == CREATOR
    # A replacement of a name nobody holds is a new dataset: its creator is the one given.
    made = data.create("fresh", upload(("b.png", BLUE)), new_version=True, created_by=OTHER).version
    assert (made.version, made.created_by) == (1, OTHER)


def test_deleting_by_id_refuses_a_name_made_again_meanwhile(data):
    old = data.create("audit", upload(("a.png", RED)), created_by=CREATOR).version
    data.delete("audit")
    again = data.create("audit", upload(("b.png", GREEN)), created_by=OTHER).version
    with pytest.raises(DatasetNotFoundError) as refused:
        data.delete("audit", dataset_id=old.dataset_id)
    assert str(refused.value) == "dataset 'audit' was deleted (the name now belongs to another dataset)"
    assert data.find(again.dataset_id).created_by == OTHER
    assert data.delete("audit", dataset_id=again.dataset_id).versions == 1
    assert data.summaries() == []


V8_DATASET = ("INSERT INTO datasets (id, name, created_at) VALUES ('olddata', 'march-audit', '2026-01-01 09:00:00')",
              "INSERT INTO dataset_versions (dataset_id, version, created_at, note) VALUES "
              "('olddata', 1, '2026-01-01 09:00:00', 'created from 0 image(s)')")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_version_8_database_with_datasets_gains_their_creators_as_unknown(database, request, tmp_path):
    url = str(tmp_path / "v8.db") if database == "sqlite" else \
        request.getfixturevalue("postgres_server").create_database()
    database_at(url, 8, V2_RUN.format(id="old", digest="NULL"), *V8_DATASET)
    store = open_store(url)
    try:
        data = Datasets(store, open_image_store(store, tmp_path / "blobs", quota_bytes=None))
        old = data.get("march-audit")
        assert (old.dataset_id, old.version, old.images, old.created_by) == ("olddata", 1, 0, None)
        assert [(s.name, s.created_by) for s in data.summaries()] == [("march-audit", None)]
        made = data.create("new", upload(("a.png", RED)), created_by=CREATOR).version
        assert data.get("new").created_by == made.created_by == CREATOR
        assert store.get_run("old").status == "complete"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT max(version) FROM schema_version").scalar() == SCHEMA_VERSION >= 9
    finally:
        store.close()
