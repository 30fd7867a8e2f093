"""The run store on SQLite (a temporary file) and on a live PostgreSQL that the tests start themselves."""
from __future__ import annotations

import csv
import io
import json
import socket
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text

from client import schema
from client.store.database import Observation, StoreError, database_url, default_database_path, open_store
from client.store.tables import MIGRATIONS, SCHEMA_VERSION, metadata, schema_version
from tests.support import free_port

CLASSES = ("cat", "dog", "other")


@pytest.fixture
def store(any_store):  # every test here runs on SQLite and on PostgreSQL (conftest.any_store)
    return any_store


def new_run(store, *, model="pets", target="label:stable", total=4, kind="classify", **fields):
    return store.create_run(kind=kind, url="http://127.0.0.1:8501", model=model, target=target, total=total,
                            class_names=CLASSES, **fields)


def result(position, source, top="cat", truth=None, error=None, version=2):
    if error:
        return {"position": position, "source": source, "error": error, "error_type": "ImageError",
                "version": version}
    probabilities = {schema.prob_column(c): (0.8 if c == top else 0.1) for c in CLASSES}
    return {"position": position, "source": source, "top_class": top, "confidence": 0.8, **probabilities,
            "ground_truth": truth, "version": version, "latency_ms": 12.5}


def test_database_url_from_path_env_and_default(tmp_path, monkeypatch):
    monkeypatch.delenv("SERVESCOPE_DB", raising=False)
    monkeypatch.setenv("SERVESCOPE_DATA_DIR", str(tmp_path / "data"))
    assert default_database_path() == tmp_path / "data" / "servescope.db"
    assert database_url() == f"sqlite:///{tmp_path / 'data' / 'servescope.db'}"
    assert (tmp_path / "data").is_dir()
    monkeypatch.setenv("SERVESCOPE_DB", str(tmp_path / "x.db"))
    assert database_url() == f"sqlite:///{tmp_path / 'x.db'}"
    assert database_url("postgresql://u:p@db/h") == "postgresql+psycopg://u:p@db/h"
    assert database_url("postgres://u@db/h") == "postgresql+psycopg://u@db/h"
    monkeypatch.delenv("SERVESCOPE_DATA_DIR")
    assert str(default_database_path()).endswith(".local/share/servescope/servescope.db")


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    store = open_store(tmp_path / "runs.db", busy_timeout_s=7)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrated_schema_matches_the_tables_queries_use(store):
    found = inspect(store.engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in found.get_columns(table.name)} == set(table.columns.keys()), table.name
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT max(version) FROM schema_version")).scalar() == SCHEMA_VERSION


def test_run_round_trip_in_schema_columns(store):
    run = new_run(store, session_id="s1", truth_summary="ground truth from folder names")
    assert (run.status, run.done, run.errors, run.total) == ("queued", 0, 0, 4)
    store.update_progress(run.id, status="running", version=2, labels_at_start={"stable": 2, "canary": 3},
                          signature_digest="ab" * 32, elapsed_s=0.5)
    store.add_rows(run.id, [result(0, "pets/cat/1.jpg", "cat", "cat"), result(1, "pets/dog/2.jpg", "cat", "dog")])
    store.add_rows(run.id, [result(2, "bad.jpg", error="bad.jpg: not an image")])
    mid = store.get_run(run.id)
    assert (mid.status, mid.done, mid.errors, mid.version) == ("running", 3, 1, 2)
    finished = store.finish_run(run.id, "cancelled", elapsed_s=1.25, labels_at_end={"stable": 1})
    assert finished.finished_at is not None and finished.finished_at.tzinfo is not None
    assert dict(finished.labels_at_start) == {"stable": 2, "canary": 3}
    assert dict(finished.labels_at_end) == {"stable": 1}
    assert finished.outcome() == "cancelled with 3 of 4 done: 2 of 4 image(s) classified, 1 failed, 1 not run"
    frame = store.run_rows(run.id)
    assert list(frame.columns) == schema.columns(CLASSES)
    assert list(frame.index) == [0, 1, 2]
    first = frame.loc[0]
    assert (first["source"], first["top_class"], first["prob_cat"], first["model"], first["target"]) == (
        "pets/cat/1.jpg", "cat", 0.8, "pets", "label:stable")
    assert list(frame["correct"].astype(object).where(frame["correct"].notna(), None)) == [True, False, None]
    assert frame.loc[2, "error"] == "bad.jpg: not an image" and frame.loc[2, "error_type"] == "ImageError"
    assert store.get_run("nope") is None


def test_rewritten_positions_replace_rows_and_counts_follow(store):
    run = new_run(store, total=3)
    store.add_rows(run.id, [result(0, "a.jpg", error="a.jpg: timeout"), result(1, "b.jpg"),
                            result(2, "c.jpg", error="c.jpg: timeout")])
    assert store.failed_positions(run.id) == [0, 2]
    store.add_rows(run.id, [result(0, "a.jpg", "dog")])
    again = store.get_run(run.id)
    assert (again.done, again.errors) == (3, 1)
    assert store.failed_positions(run.id) == [2]
    assert store.run_rows(run.id).loc[0, "top_class"] == "dog"


def test_correction_sets_time_and_wins_over_ground_truth(store):
    run = new_run(store, total=1)
    store.add_rows(run.id, [result(0, "x/cat/1.jpg", "dog", "cat")])
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert store.set_correction(run.id, "x/cat/1.jpg", "dog") == 1
    row = store.run_rows(run.id).loc[0]
    assert row["correction"] == "dog" and bool(row["correct"]) is True
    assert datetime.fromisoformat(row["corrected_at"]) >= before
    store.set_correction(run.id, "x/cat/1.jpg", None)
    row = store.run_rows(run.id).loc[0]
    assert row["correction"] is None and row["corrected_at"] is None and bool(row["correct"]) is False
    with pytest.raises(LookupError, match="no row for 'missing.jpg'"):
        store.set_correction(run.id, "missing.jpg", "cat")


def test_list_runs_newest_first_with_filters_accuracy_and_corrections(store):
    old = new_run(store, model="pets", session_id="a")
    store.add_rows(old.id, [result(0, "1.jpg", "cat", "cat"), result(1, "2.jpg", "cat", "dog"),
                            result(2, "3.jpg", "dog"), result(3, "4.jpg", error="4.jpg: bad")])
    store.update_progress(old.id, version=1)
    new = new_run(store, model="flowers", kind="compare", session_id="b")
    store.add_rows(new.id, [result(0, "5.jpg", "cat")])
    store.set_correction(new.id, "5.jpg", "dog")
    everything = store.list_runs()
    assert [s.run.id for s in everything] == [new.id, old.id]
    by_id = {s.run.id: s for s in everything}
    assert (by_id[old.id].truth_known, by_id[old.id].correct, by_id[old.id].accuracy) == (2, 1, 0.5)
    assert (by_id[new.id].corrections, by_id[new.id].accuracy) == (1, 0.0)
    assert [s.run.id for s in store.list_runs(model="pets")] == [old.id]
    assert [s.run.id for s in store.list_runs(version=1)] == [old.id]
    assert [s.run.id for s in store.list_runs(kind="compare")] == [new.id]
    assert [s.run.id for s in store.list_runs(session_id="a")] == [old.id]
    assert store.list_runs(since=datetime.now(timezone.utc) + timedelta(minutes=1)) == []
    assert len(store.list_runs(until=datetime.now(timezone.utc) + timedelta(minutes=1))) == 2
    assert len(store.list_runs(limit=1)) == 1


def test_search_sources_across_runs_case_insensitive_and_literal(store):
    first, second = new_run(store), new_run(store)
    store.add_rows(first.id, [result(0, "batch.zip/Cats/100%.jpg"), result(1, "dog.jpg")])
    store.add_rows(second.id, [result(0, "other/CATS/7.png")])
    found = store.search_sources("cats/")
    assert sorted(found["source"]) == ["batch.zip/Cats/100%.jpg", "other/CATS/7.png"]
    assert list(store.search_sources("100%")["run_id"]) == [first.id]
    assert store.search_sources("1_0").empty  # _ and % are literal, not wildcards


def test_delete_clear_and_retention_keep_unfinished_runs(store):
    done = [new_run(store) for _ in range(3)]
    for run in done:
        store.add_rows(run.id, [result(0, "a.jpg")])
        store.finish_run(run.id, "complete")
    running = new_run(store, status="running")
    comparison = store.save_comparison(done[0].id, [done[1].id])
    assert store.apply_retention(1) == [done[1].id, done[0].id]
    assert store.get_comparison(comparison.id) is None
    assert {s.run.id for s in store.list_runs()} == {done[2].id, running.id}
    assert store.delete_run(done[2].id) is True and store.delete_run(done[2].id) is False
    assert store.run_rows(running.id).empty
    # Nobody can delete a running run, not even by clearing everything (dashboard.runs.ownership).
    assert store.clear_all() == 0 and [s.run.id for s in store.list_runs()] == [running.id]
    with pytest.raises(ValueError):
        store.apply_retention(-1)


def test_comparison_round_trip(store):
    a, b, c = new_run(store, kind="compare"), new_run(store, kind="compare"), new_run(store, kind="compare")
    saved = store.save_comparison(a.id, [b.id, c.id], session_id="s")
    loaded = store.get_comparison(saved.id)
    assert (loaded.baseline_run_id, loaded.other_run_ids, loaded.session_id) == (a.id, (b.id, c.id), "s")
    assert store.get_comparison("missing") is None


def test_observations_store_only_state_changes(store):
    url = "http://127.0.0.1:8501"
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    seen = [Observation(url, "pets", version=1, state="LOADING", observed_at=t0),
            Observation(url, "pets", version=1, state="LOADING", observed_at=t0 + timedelta(seconds=1)),
            Observation(url, "pets", version=1, state="AVAILABLE", observed_at=t0 + timedelta(seconds=2)),
            Observation(url, "pets", label="stable", label_version=1, observed_at=t0 + timedelta(seconds=2)),
            Observation(url, "pets", label="stable", label_version=1, observed_at=t0 + timedelta(seconds=3))]
    assert store.record_observations(seen) == 3
    assert store.record_observation(Observation(url, "pets", version=1, state="AVAILABLE")) is False
    assert store.record_observation(Observation(url, "pets", label="stable", label_version=2)) is True
    assert store.record_observation(Observation(url, "pets", version=1, state="END", error="unloaded")) is True
    history = store.observations("pets")
    assert [(o.version, o.state, o.label, o.label_version) for o in history] == [
        (1, "LOADING", None, None), (1, "AVAILABLE", None, None), (None, None, "stable", 1),
        (None, None, "stable", 2), (1, "END", None, None)]
    assert history[0].observed_at == t0
    assert len(store.observations("pets", since=t0 + timedelta(seconds=2))) == 4
    assert store.observations("other") == []


def test_export_csv_json_parquet_in_the_cli_columns(store):
    first, second = new_run(store), new_run(store, target="version:1")
    store.add_rows(first.id, [result(0, "=cmd|' /C calc'!A0.jpg", "cat", "cat"), result(1, "b.jpg", error="b: x")])
    store.add_rows(second.id, [result(0, "c.jpg", "dog")])
    single = list(csv.DictReader(io.StringIO(store.export_runs([first.id], "csv").decode("utf-8"))))
    assert list(single[0]) == schema.columns(CLASSES)
    assert single[0]["source"] == "'=cmd|' /C calc'!A0.jpg" and single[0]["correct"] == "True"
    assert single[1]["error"] == "b: x" and single[1]["top_class"] == ""
    both = json.loads(store.export_runs([first.id, second.id], "json"))
    assert [(r["run_id"], r["source"], r["target"]) for r in both][1:] == [
        (first.id, "b.jpg", "label:stable"), (second.id, "c.jpg", "version:1")]
    assert list(both[0]) == ["run_id", *schema.columns(CLASSES)] and both[1]["top_class"] is None
    table = pd.read_parquet(io.BytesIO(store.export_runs([second.id], "parquet")))
    assert list(table.columns) == schema.columns(CLASSES) and table.loc[0, "top_class"] == "dog"
    with pytest.raises(ValueError, match="xlsx"):
        store.export_runs([first.id], "xlsx")
    with pytest.raises(LookupError):
        store.export_runs(["missing"], "csv")


def test_thumbnails_and_extras_come_back_by_position(store):
    run = new_run(store, total=2)
    store.add_rows(run.id, [{**result(0, "a.jpg"), "thumbnail": b"\xff\xd8jpeg", "extras": {"top5": ("x", "y")}},
                            result(1, "b.jpg")])
    assert store.run_thumbnails(run.id) == {0: b"\xff\xd8jpeg"}
    assert store.run_extras(run.id) == {0: {"top5": ["x", "y"]}}


def test_runs_of_a_dead_process_are_marked_interrupted(store):
    host = socket.gethostname()
    orphan = new_run(store, status="running", owner=f"{host}:999999999:1")  # no such pid
    store.add_rows(orphan.id, [result(0, "a.jpg"), result(1, "b.jpg")])
    queued_orphan = new_run(store, owner=f"{host}:999999998:1")
    mine = new_run(store, status="running")  # this process: alive
    elsewhere = new_run(store, status="running", owner="another-host:1:1")
    marked = store.mark_interrupted_runs()
    assert sorted(r.id for r in marked) == sorted([orphan.id, queued_orphan.id])
    again = store.get_run(orphan.id)
    assert (again.status, again.done, again.total) == ("interrupted", 2, 4)
    assert again.error == "the app stopped with 2 of 4 done"
    assert store.get_run(mine.id).status == "running" and store.get_run(elsewhere.id).status == "running"


def test_two_stores_writing_at_once_lose_no_rows(store):
    other = open_store(store.engine.url.render_as_string(hide_password=False))
    shared = new_run(store, total=400)
    own = [new_run(store, total=200), new_run(store, total=200)]
    failures: list[BaseException] = []

    def write(writer, parity, run_id):
        try:
            for start in range(0, 200, 5):
                writer.add_rows(shared.id, [result(2 * p + parity, f"{2 * p + parity}.jpg")
                                            for p in range(start, start + 5)])
                writer.add_rows(run_id, [result(p, f"{p}.jpg") for p in range(start, start + 5)])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(s, i, own[i].id)) for i, s in enumerate((store, other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert failures == []
    assert list(store.run_rows(shared.id).index) == list(range(400))
    assert store.get_run(shared.id).done == 400
    assert [store.get_run(r.id).done for r in own] == [200, 200]
    assert [len(store.run_rows(r.id)) for r in own] == [200, 200]


def test_a_failed_write_raises_store_error(store):
    with pytest.raises(StoreError, match=r"could not store 1 row\(s\) of run missing in .*: .*(?i:foreign key)"):
        store.add_rows("missing", [result(0, "a.jpg")])


def test_a_locked_sqlite_database_raises_store_error_naming_it(tmp_path):
    path = tmp_path / "runs.db"
    store = open_store(path, busy_timeout_s=0.2)
    run = new_run(store)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match=rf"^could not store 1 row\(s\) of run {run.id} in the run store: "
                                             "database is locked$"):
            store.add_rows(run.id, [result(0, "a.jpg")])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.add_rows(run.id, [result(0, "a.jpg")])
    assert store.get_run(run.id).done == 1


def test_an_unreachable_postgresql_raises_store_error_without_the_password():
    url = f"postgresql://servescope:secret@127.0.0.1:{free_port()}/runs"
    with pytest.raises(StoreError, match=r"^cannot open the run store: .*(?i:connection refused)") as info:
        open_store(url)
    assert "secret" not in str(info.value) and "servescope@" not in str(info.value)


V1_SQLITE = """
CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at DATETIME NOT NULL);
INSERT INTO schema_version VALUES (1, '2026-01-01 09:00:00.000000');
CREATE TABLE runs (id VARCHAR(32) NOT NULL PRIMARY KEY, created_at DATETIME NOT NULL, finished_at DATETIME,
  kind VARCHAR(16) NOT NULL, session_id VARCHAR(64), url TEXT NOT NULL, model VARCHAR(200) NOT NULL,
  target VARCHAR(200) NOT NULL, version INTEGER, labels_at_start JSON, labels_at_end JSON,
  signature_digest VARCHAR(64), status VARCHAR(16) NOT NULL, total INTEGER NOT NULL, done INTEGER NOT NULL,
  errors INTEGER NOT NULL, elapsed_s FLOAT, error TEXT, class_names JSON NOT NULL, truth_summary TEXT);
CREATE TABLE rows (run_id VARCHAR(32) NOT NULL REFERENCES runs (id) ON DELETE CASCADE, position INTEGER NOT NULL,
  source TEXT NOT NULL, top_class VARCHAR(200), confidence FLOAT, probabilities JSON, ground_truth VARCHAR(200),
  correction VARCHAR(200), corrected_at DATETIME, version INTEGER, latency_ms FLOAT, error TEXT,
  error_type VARCHAR(100), thumbnail BLOB, extras JSON, PRIMARY KEY (run_id, position));
CREATE TABLE comparisons (id VARCHAR(32) NOT NULL PRIMARY KEY, created_at DATETIME NOT NULL, session_id VARCHAR(64),
  baseline_run_id VARCHAR(32) NOT NULL REFERENCES runs (id) ON DELETE CASCADE);
CREATE TABLE comparison_runs (comparison_id VARCHAR(32) NOT NULL REFERENCES comparisons (id) ON DELETE CASCADE,
  position INTEGER NOT NULL, run_id VARCHAR(32) NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  PRIMARY KEY (comparison_id, position));
INSERT INTO runs VALUES ('oldrun', '2026-01-01 09:00:00.000000', NULL, 'classify', 's', 'http://127.0.0.1:8501',
  'pets', 'label:stable', 1, '{"stable": 1}', '{}', NULL, 'running', 3, 2, 1, 4.5, NULL, '["cat", "dog", "other"]',
  NULL);
INSERT INTO rows VALUES ('oldrun', 0, 'a/cat/1.jpg', 'cat', 0.9, '{"cat": 0.9, "dog": 0.05, "other": 0.05}', 'cat',
  NULL, NULL, 1, 20.0, NULL, NULL, NULL, NULL);
INSERT INTO rows VALUES ('oldrun', 1, 'b.jpg', NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL, 'b.jpg: not an image',
  'ImageError', NULL, NULL);
"""


def test_the_current_app_opens_a_version_1_database(tmp_path):
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SQLITE)
    store = open_store(path)
    with store.engine.connect() as conn:
        assert list(conn.execute(text("SELECT version FROM schema_version ORDER BY version")).scalars()) == list(
            range(1, SCHEMA_VERSION + 1))
    assert SCHEMA_VERSION >= 4
    old = store.get_run("oldrun")
    assert (old.owner, old.thumbnails, old.done, old.errors, dict(old.labels_at_start)) == (
        None, True, 2, 1, {"stable": 1})
    assert old.created_at == datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
    frame = store.run_rows("oldrun")
    assert list(frame["source"]) == ["a/cat/1.jpg", "b.jpg"] and frame.loc[0, "prob_cat"] == 0.9
    # A v1 app recorded no owner, so its unfinished run can only be an orphan.
    assert [r.id for r in store.mark_interrupted_runs()] == ["oldrun"]
    assert store.get_run("oldrun").status == "interrupted"
    # Version 2's additions work on the migrated file.
    assert store.record_observation(Observation("http://127.0.0.1:8501", "pets", version=1, state="AVAILABLE"))
    store.close()
    assert open_store(path).get_run("oldrun").status == "interrupted"  # a second open migrates nothing


def test_a_database_from_a_newer_app_is_refused(tmp_path):
    path = tmp_path / "future.db"
    open_store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, '2030-01-01 00:00:00')")
    with pytest.raises(StoreError, match=f"schema version 99, newer than this app's {SCHEMA_VERSION}: "):
        open_store(path)


def test_comparisons_of_a_run_newest_first(store):
    a = new_run(store, kind="compare")
    b = new_run(store, kind="compare", target="label:canary")
    c = new_run(store, kind="compare", target="version:2")
    first = store.save_comparison(a.id, [b.id])
    second = store.save_comparison(a.id, [c.id])
    assert [found.id for found in store.comparisons_of_run(a.id)] == [second.id, first.id]
    assert [found.id for found in store.comparisons_of_run(b.id)] == [first.id]
    assert store.comparisons_of_run("0123456789ab") == []


def database_at(path, version: int, *statements: str) -> None:
    """A database (a SQLite path or a SQLAlchemy URL) as an app of schema `version` left it (its migrations only),
    then `statements` run on it."""
    engine = create_engine(path if "://" in str(path) else f"sqlite:///{path}")
    with engine.begin() as conn:
        schema_version.create(conn)
        for number, step in enumerate(MIGRATIONS[:version], start=1):
            step(conn)
            conn.execute(schema_version.insert().values(version=number, applied_at=datetime.now(timezone.utc)))
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


V2_RUN = ("INSERT INTO runs (id, created_at, kind, url, model, target, status, total, done, errors, class_names, "
          "signature_digest) VALUES ('{id}', '2026-01-01 09:00:00', 'classify', 'http://127.0.0.1:8501', 'pets', "
          "'latest', 'complete', 1, 1, 0, '[]', {digest})")


def test_a_version_2_database_gets_prefixed_signature_digests(tmp_path):
    path = tmp_path / "v2.db"
    database_at(path, 2, V2_RUN.format(id="old", digest="'" + "ab" * 32 + "'"), V2_RUN.format(id="none", digest="NULL"))
    store = open_store(path)
    assert store.get_run("old").signature_digest == "sha256:" + "ab" * 32
    assert store.get_run("none").signature_digest is None
    store.close()
    assert open_store(path).get_run("old").signature_digest == "sha256:" + "ab" * 32   # migrated once
