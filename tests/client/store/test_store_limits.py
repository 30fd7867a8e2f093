"""The run store's limits: int64 version numbers on SQLite and a live PostgreSQL, server texts stored within the
one bound, every failure a StoreError without a path, and a SQLite file deleted or replaced under a running
dashboard refused instead of written into the void."""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect

from client import errors as client_errors
from client.store import texts
from client.store.database import FILE_GONE, Observation, StoreError, database_url, open_store
from client.store.tables import MIGRATIONS
from tests.client.store.test_store import CLASSES, database_at, result

URL = "http://127.0.0.1:8501"
T0 = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)
BIGGEST = 2 ** 63 - 1


def new_run(store, **fields):
    return store.create_run(kind="classify", url=URL, model="pets", target="latest", total=1, class_names=CLASSES,
                            **fields)


# -- the one bound on server texts --------------------------------------------------------------------------------
def test_bounded_text_cuts_once_and_says_how_long_the_text_was():
    assert texts.bounded_text is client_errors.bounded and texts.MAX_SERVER_TEXT_CHARS == 300  # one rule
    assert texts.bounded_text("x" * 300) == "x" * 300
    cut = texts.bounded_text("x" * 1_000_000)
    assert cut == "x" * 300 + "… (cut; 1000000 characters in all)"
    assert texts.bounded_text(cut) == cut                      # cutting again changes nothing


@pytest.mark.parametrize("value, expected", [(0, True), (BIGGEST, True), (-2 ** 63, True), (2 ** 63, False),
                                             (True, False), (1.0, False), ("1", False)])
def test_is_int64(value, expected):
    assert texts.is_int64(value) is expected


# -- int64 versions -------------------------------------------------------------------------------------------------
def test_version_columns_are_64_bit(any_store):
    columns = {(table, c["name"]): c["type"] for table in ("runs", "rows", "observations")
               for c in inspect(any_store.engine).get_columns(table)}
    for where in (("runs", "version"), ("rows", "version"), ("observations", "version"),
                  ("observations", "label_version")):
        shown = str(columns[where]).upper()
        assert shown == ("BIGINT" if any_store.engine.dialect.name == "postgresql" else "INTEGER"), where


def test_the_largest_int64_version_is_stored_and_read_back(any_store):
    run = new_run(any_store)
    any_store.update_progress(run.id, status="running", version=BIGGEST, labels_at_start={"stable": BIGGEST})
    any_store.add_rows(run.id, [result(0, "a.jpg", version=BIGGEST)])
    any_store.finish_run(run.id, "complete", labels_at_end={"stable": BIGGEST})
    again = any_store.get_run(run.id)
    assert (again.version, dict(again.labels_at_start), dict(again.labels_at_end)) == (
        BIGGEST, {"stable": BIGGEST}, {"stable": BIGGEST})
    assert int(any_store.run_rows(run.id).loc[0, "version"]) == BIGGEST
    assert [s.run.id for s in any_store.list_runs(version=BIGGEST)] == [run.id]
    seen = [Observation(URL, "pets", version=BIGGEST, state="AVAILABLE", observed_at=T0),
            Observation(URL, "pets", label="stable", label_version=BIGGEST, observed_at=T0)]
    assert any_store.record_observations(seen) == 2
    assert any_store.record_observations(seen) == 0             # the same again: no change
    back = any_store.observations("pets", url=URL)
    assert [(o.version, o.label_version) for o in back] == [(BIGGEST, None), (None, BIGGEST)]


def test_a_version_past_int64_is_a_clear_store_error_not_an_overflow(any_store):
    run = new_run(any_store)
    with pytest.raises(StoreError, match=r"^the version of run \w+ \(9223372036854775808\) is not a signed 64-bit "
                                         "integer, as TF Serving's versions are$"):
        any_store.update_progress(run.id, version=2 ** 63)
    with pytest.raises(StoreError, match=r"^the version of row 0 of run \w+ \(9223372036854775808\) is not"):
        any_store.add_rows(run.id, [result(0, "a.jpg", version=2 ** 63)])
    with pytest.raises(StoreError, match=r"^a server observation's version \(9223372036854775808\) is not"):
        any_store.record_observations([Observation(URL, "pets", version=2 ** 63, state="AVAILABLE"),
                                       Observation(URL, "pets", version=1, state="AVAILABLE")])
    assert any_store.observations("pets") == [] and any_store.get_run(run.id).done == 0


def test_a_version_3_postgresql_database_gets_bigint_versions(postgres_server):
    url = postgres_server.create_database()
    database_at(url, 3, "INSERT INTO observations (observed_at, url, model, version, state, error) VALUES "
                        f"(now(), '{URL}', 'pets', 2147483647, 'END', '{'E' * 5000}')")
    assert MIGRATIONS[3].__name__ == "_v4_int64_versions"
    store = open_store(url)
    try:
        found = {c["name"]: str(c["type"]) for c in inspect(store.engine).get_columns("runs")}
        assert found["version"] == "BIGINT"
        run = new_run(store)
        store.update_progress(run.id, version=BIGGEST)
        assert store.get_run(run.id).version == BIGGEST
        assert [(o.version, o.error) for o in store.observations("pets")] == [
            (2 ** 31 - 1, "E" * 300 + "… (cut; 5000 characters in all)")]
    finally:
        store.close()


# -- server texts in the store ------------------------------------------------------------------------------------
def test_a_million_character_version_error_is_stored_cut(any_store):
    huge = "E" * 1_000_000
    assert any_store.record_observations([Observation(URL, "pets", version=1, state="END", error=huge,
                                                      observed_at=T0)]) == 1
    [stored] = any_store.observations("pets")
    assert stored.error == "E" * 300 + "… (cut; 1000000 characters in all)"
    # The same text next time is the same state: not stored again.
    assert any_store.record_observations([Observation(URL, "pets", version=1, state="END", error=huge,
                                                      observed_at=T0 + timedelta(seconds=5))]) == 0
    long_state = "S" * 1000
    any_store.record_observations([Observation(URL, "pets", version=2, state=long_state, observed_at=T0)])
    assert any_store.observations("pets")[-1].state == "S" * 31 + "…"


def test_a_version_3_database_has_its_long_errors_cut_on_upgrade(tmp_path):
    path = tmp_path / "v3.db"
    database_at(path, 3, "INSERT INTO observations (observed_at, url, model, version, state, error) VALUES "
                         f"('2026-01-01 09:00:00', '{URL}', 'pets', 1, 'END', '{'E' * 5000}')")
    store = open_store(path)
    [stored] = store.observations("pets")
    assert stored.error == "E" * 300 + "… (cut; 5000 characters in all)"
    store.close()


def test_many_versions_are_recorded_in_one_transaction_and_only_changes_count(any_store):
    seen = [Observation(URL, "pets", version=v, state="AVAILABLE", observed_at=T0) for v in range(1, 2001)]
    assert any_store.record_observations(seen) == 2000
    later = T0 + timedelta(seconds=5)
    moved = [Observation(URL, "pets", version=v, state="END" if v == 7 else "AVAILABLE", observed_at=later)
             for v in range(1, 2001)]
    assert any_store.record_observations(moved) == 1
    assert any_store.record_observations(moved) == 0
    # Another server's model of the same name is its own history.
    assert any_store.record_observations([Observation("http://other:8501", "pets", version=7, state="END")]) == 1


# -- every failure a StoreError, no path on it --------------------------------------------------------------------
def test_a_store_path_under_a_regular_file_is_a_store_error_without_the_path(tmp_path, monkeypatch):
    blocker = tmp_path / "some-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SERVESCOPE_DB", str(blocker / "x.db"))
    for attempt in (database_url, open_store):
        with pytest.raises(StoreError) as info:
            attempt()
        assert str(info.value) == ("cannot open the run store: its folder cannot be created (a file is where a "
                                   "folder should be)")
    with pytest.raises(StoreError, match=r"^cannot open the run store: its folder cannot be created \(a file is "):
        open_store(blocker / "deeper" / "x.db")


def test_a_folder_where_the_file_should_be_is_a_store_error(tmp_path):
    (tmp_path / "runs.db").mkdir()
    with pytest.raises(StoreError, match=r"^cannot open the run store: .*unable to open database file") as info:
        open_store(tmp_path / "runs.db")
    assert str(tmp_path) not in str(info.value)


# -- the SQLite file deleted or replaced --------------------------------------------------------------------------
def sqlite_files(path):
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def test_a_deleted_store_file_is_refused_for_every_read_and_write(tmp_path):
    path = tmp_path / "runs.db"
    store = open_store(path)
    before = new_run(store)
    store.add_rows(before.id, [result(0, "a.jpg")])
    for name in sqlite_files(path):
        name.unlink(missing_ok=True)
    with pytest.raises(StoreError) as info:
        new_run(store)
    assert str(info.value) == FILE_GONE
    assert FILE_GONE.startswith("the run store's file was deleted or replaced since the dashboard opened it; "
                                "restart the dashboard")
    for call in (store.list_runs, lambda: store.get_run(before.id), lambda: store.add_rows(before.id, [result(1, "b")]),
                 lambda: store.finish_run(before.id, "complete"), lambda: store.observations("pets")):
        with pytest.raises(StoreError, match="^the run store's file was deleted or replaced"):
            call()
    assert not path.exists()     # refused before any connection could make a new, empty file there
    store.close()


def test_a_replaced_store_file_is_refused(tmp_path):
    path = tmp_path / "runs.db"
    store = open_store(path)
    new_run(store)
    other = tmp_path / "other.db"
    open_store(other).close()
    os.replace(other, path)      # another file now has the name: the dashboard's runs would go there unseen
    with pytest.raises(StoreError, match="^the run store's file was deleted or replaced"):
        store.list_runs()
    store.close()


def test_a_store_file_left_alone_keeps_working(tmp_path):
    path = tmp_path / "runs.db"
    store = open_store(path)
    run = new_run(store)
    with sqlite3.connect(path) as conn:    # another process writing to the same file is not a replacement
        conn.execute("UPDATE runs SET total = 3 WHERE id = ?", (run.id,))
    assert store.get_run(run.id).total == 3
    store.close()
