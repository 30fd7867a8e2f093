"""The History page body (dashboard.history.view) by AppTest over a real store (SQLite file, live PostgreSQL)
seeded through Store.create_run/add_rows/finish_run; run_history's pure parts directly."""
from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from client import schema
from dashboard.history import summaries as run_history
from dashboard.plain import escape_markdown
from dashboard.runs.ownership import Actor
from dashboard.runs.results import label_moved_note, run_query_params
from client.store.database import Observation, open_store
from tests.support import ROOT

APP = ROOT / "tests" / "dashboard" / "apps" / "history_app.py"
CLASSES = ("cat", "dog", "other")
URL = "http://127.0.0.1:8501"
BEACON = "x![b](http://127.0.0.1:9/beacon.png).jpg"
EMPTY = "No stored runs yet: classify or compare images first; every run is kept here."
MOVED = "stable was version 1 when this ran; it is version 2 now"
OPERATOR = Actor(browser=None, operator=True)   # may delete any run, and clear History (dashboard.runs.ownership)


@pytest.fixture
def store(any_store):  # every test here runs on SQLite and on PostgreSQL (conftest.any_store)
    return any_store


@pytest.fixture
def sqlite_store(tmp_path):
    opened = open_store(tmp_path / "runs.db")
    yield opened
    opened.close()


def row(position, source, top, truth=None, latency=10.0, error=None):
    if error:
        return {"position": position, "source": source, "error": error, "error_type": "ImageError", "version": None}
    return {"position": position, "source": source, "top_class": top, "confidence": 0.9,
            **{schema.prob_column(c): (0.9 if c == top else 0.05) for c in CLASSES},
            "ground_truth": truth, "latency_ms": latency}


def seed(store, *, model="pets", target="latest", version=1, kind="classify", session_id=None, rows=(),
         status="complete", labels=None):
    run = store.create_run(kind=kind, url=URL, model=model, target=target, total=max(len(rows), 1),
                           class_names=CLASSES, session_id=session_id)
    store.update_progress(run.id, status="running", version=version, labels_at_start=labels or {})
    store.add_rows(run.id, [dict(r, version=version) for r in rows])
    if status != "running":
        store.finish_run(run.id, status)
    return run.id


@pytest.fixture
def three_runs(store):
    """oldest: pets v1 (2 right of 3 known, one error); then other-model v2; newest: pets v2 via label:stable."""
    first = seed(store, version=1, session_id="me", rows=[
        row(0, "photos/cat/1.jpg", "cat", "cat", 10), row(1, "photos/dog/2.jpg", "cat", "dog", 20),
        row(2, "photos/other/3.jpg", "other", "other", 30), row(3, "broken.jpg", None, error="broken.jpg: bad")])
    second = seed(store, model="birds", version=2, kind="compare", rows=[row(0, BEACON, "dog")])
    third = seed(store, target="label:stable", version=2, labels={"stable": 2}, session_id="me",
                 rows=[row(0, "photos/cat/1.jpg", "dog", "cat", 5)])
    return [third, second, first]  # newest first


def start(store, **state) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.session_state["store"] = store
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def runs_shown(app) -> list[str]:
    [table] = [t for t in app.dataframe if "run" in t.value.columns and "note" in t.value.columns]
    return table.value["run"].tolist()


@pytest.mark.slow
def test_every_run_newest_first_with_accuracy_errors_and_corrections(store, three_runs):
    store.set_correction(three_runs[2], "photos/dog/2.jpg", "cat")  # the analyst says it was a cat after all
    app = start(store)
    assert not app.exception
    [table] = [t.value for t in app.dataframe if "note" in t.value.columns]
    assert table["run"].tolist() == three_runs
    oldest = table.iloc[2]
    assert (oldest["images"], oldest["errors"], oldest["corrections"]) == (4, 1, 1)
    assert oldest["accuracy"] == pytest.approx(100.0)  # 3 of 3 known after the correction, on a 0-100 scale
    assert pd.isna(table.iloc[1]["accuracy"])          # no truth: no accuracy
    assert table.iloc[0]["accuracy"] == 0.0
    assert table["version"].tolist() == ["2", "2", "1"]   # versions as text
    assert any(c.value.startswith("3 of 3 stored run(s) shown in 3 row(s) (a comparison is one row), newest first")
               for c in app.caption)
    [spec] = [t for t in app.dataframe if "note" in t.value.columns]
    config = json.loads(spec.proto.columns)
    assert config["accuracy"]["type_config"]["format"] == "%.1f%%"   # "91.2%", one decimal


@pytest.mark.slow
def test_filters_model_version_kind_session_and_dates(store, three_runs):
    app = start(store, session_id="me")
    app.selectbox(key="history_model").select("pets").run()
    assert runs_shown(app) == [three_runs[0], three_runs[2]]
    app.selectbox(key="history_version").select(2).run()
    assert runs_shown(app) == [three_runs[0]]
    app.selectbox(key="history_model").select(None).run()
    app.selectbox(key="history_kind").select("compare").run()
    assert runs_shown(app) == [three_runs[1]]
    app.selectbox(key="history_kind").select(None)
    app.selectbox(key="history_version").select(None).run()
    app.toggle(key="history_mine").set_value(True).run()
    assert runs_shown(app) == [three_runs[0], three_runs[2]]
    app.toggle(key="history_mine").set_value(False).run()
    yesterday = date.today() - timedelta(days=2)
    app.date_input(key="history_dates").set_value((yesterday, yesterday)).run()
    assert runs_shown(app) == []
    app.date_input(key="history_dates").set_value((yesterday, date.today() + timedelta(days=1))).run()
    assert runs_shown(app) == three_runs


def test_this_session_only_is_disabled_without_a_session_id(sqlite_store):
    seed(sqlite_store)
    app = start(sqlite_store)
    assert app.toggle(key="history_mine").disabled


@pytest.mark.slow
def test_search_by_file_name_across_runs_shows_names_as_cells_only(store, three_runs):
    app = start(store)
    app.text_input(key="history_search").input("CAT/1").run()
    [found] = [t.value for t in app.dataframe if "source" in t.value.columns]
    assert found["run_id"].tolist() == [three_runs[0], three_runs[2]]
    app.text_input(key="history_search").input("beacon").run()
    [found] = [t.value for t in app.dataframe if "source" in t.value.columns]
    assert found["source"].tolist() == [BEACON]
    markdown = [e.value for e in (*app.markdown, *app.caption, *app.info, *app.warning, *app.error)]
    assert not any("](http" in text for text in markdown)


def test_each_row_links_to_its_run_and_notes_a_moved_label(sqlite_store):
    moved = seed(sqlite_store, target="label:stable", version=1, labels={"stable": 1})
    sqlite_store.record_observations([Observation(URL, "pets", label="stable", label_version=2)])
    app = start(sqlite_store)
    [table] = [t.value for t in app.dataframe if "note" in t.value.columns]
    assert table["note"].tolist() == [MOVED]
    assert table["open"].tolist() == [f"/classify?run={moved}"]
    assert not app.get("multiselect") or "history_selected" not in [m.key for m in app.multiselect]


@pytest.mark.slow
def test_clicking_a_row_opens_its_run_and_clears_the_click(sqlite_store):
    first = seed(sqlite_store, rows=[row(0, "a.jpg", "cat", "cat")])
    newest = seed(sqlite_store, rows=[row(0, "b.jpg", "cat", "dog")])
    app = start(sqlite_store)
    app.session_state["history_runs"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    assert [t.value for t in app.text] == [f"opened run {first}"]
    assert "history_runs" not in app.session_state   # back on History, nothing is opened again
    assert newest != first


@pytest.mark.slow
def test_a_comparison_is_one_row_with_its_sides_and_opens_the_comparison(store):
    baseline = seed(store, kind="compare", version=1, rows=[
        row(0, "a.jpg", "cat", "cat"), row(1, "b.jpg", "cat", "dog"), row(2, "c.jpg", "dog", "dog")])
    canary = seed(store, kind="compare", target="label:canary", version=2, rows=[
        row(0, "a.jpg", "cat", "cat"), row(1, "b.jpg", "dog", "dog"), row(2, "c.jpg", "dog", "dog")])
    comparison = store.save_comparison(baseline, [canary])
    alone = seed(store, kind="compare", version=3, rows=[row(0, "a.jpg", "cat")])   # in no comparison
    app = start(store)
    [table] = [t.value for t in app.dataframe if "note" in t.value.columns]
    assert table["run"].tolist() == [alone, comparison.id]
    assert table["kind"].tolist() == ["compare", "comparison"]
    one = table.iloc[1]
    assert (one["target"], one["version"], one["images"], one["open"]) == (
        "latest vs label:canary", "1 vs 2", 3, f"/compare?comparison={comparison.id}")
    assert pd.isna(one["accuracy"])
    assert one["sides"] == "A 66.7% → B 100.0% (+33.3 points)"
    # The verdict in its row, by Compare's rule: 1 fix and no break on 3 images is too few to tell.
    assert one["verdict"] == "Not enough evidence yet: +33.3 points, 1 fix, 0 breaks on 3 images"
    assert table.iloc[0]["verdict"] == ""
    assert table.iloc[0]["open"] == f"/compare?run={alone}"
    assert any(c.value.startswith("3 of 3 stored run(s) shown in 2 row(s)") for c in app.caption)
    app.session_state["history_runs"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    app.run()
    assert [t.value for t in app.text] == [f"opened comparison {comparison.id} run None"]


def test_label_moved_note_cases(sqlite_store):
    run = sqlite_store.get_run(seed(sqlite_store, target="label:stable", version=1, labels={"stable": 1}))
    assert label_moved_note(run, {"stable": 2}) == MOVED
    assert label_moved_note(run, {"stable": 1}) is None
    assert label_moved_note(run, {}) is None              # unknown now: no claim
    assert label_moved_note(run, {"stable": None}) == \
        "stable was version 1 when this ran; it names no available version now"
    latest = sqlite_store.get_run(seed(sqlite_store, target="latest", version=1))
    assert label_moved_note(latest, {"stable": 2}) is None


@pytest.mark.slow
def test_export_one_or_many_runs_in_the_cli_columns(store, three_runs):
    one = run_history.export(store, [three_runs[2]], "csv")
    assert (one.file_name, one.mime) == (f"servescope-run-{three_runs[2]}.csv", "text/csv")
    frame = pd.read_csv(io.BytesIO(one.data))
    assert frame.columns.tolist() == schema.columns(CLASSES)
    assert frame["source"].tolist() == ["photos/cat/1.jpg", "photos/dog/2.jpg", "photos/other/3.jpg", "broken.jpg"]
    many = run_history.export(store, three_runs, "json")
    records = json.loads(many.data)
    assert many.file_name == "servescope-3-runs.json" and len(records) == 6
    assert [r["run_id"] for r in records] == [three_runs[0]] + [three_runs[1]] + [three_runs[2]] * 4
    parquet = run_history.export(store, three_runs[:1], "parquet")
    assert pd.read_parquet(io.BytesIO(parquet.data))["top_class"].tolist() == ["dog"]
    with pytest.raises(ValueError, match="at least one run"):
        run_history.export(store, [], "csv")
    app = start(store)
    app.multiselect(key="history_export_selected").select(three_runs[0]).select(three_runs[1]).run()
    assert app.radio(key="history_format").options == ["CSV", "JSON", "PARQUET"]
    [button] = app.get("download_button")
    assert button.proto.label == "Download 2 run(s) as CSV"


@pytest.mark.slow
def test_delete_selected_needs_confirmation(store, three_runs):
    app = start(store, actor=OPERATOR)
    assert app.multiselect(key="history_delete_selected").proto.select_all == 0   # no "Select all" next to delete
    app.multiselect(key="history_delete_selected").select(three_runs[1]).run()
    app.button(key="history_delete").click().run()
    assert [w.value for w in app.warning][-1].startswith("Delete 1 run(s)")
    app.button(key="history_delete_no").click().run()
    assert store.get_run(three_runs[1]) is not None and runs_shown(app) == three_runs
    app.button(key="history_delete").click().run()
    app.button(key="history_delete_yes").click().run()
    assert store.get_run(three_runs[1]) is None
    assert runs_shown(app) == [three_runs[0], three_runs[2]]
    assert app.multiselect(key="history_delete_selected").value == []
    assert escape_markdown("Deleted 1 run(s).") in [i.value for i in app.info]


@pytest.mark.slow
def test_clear_all_needs_confirmation_and_keeps_observations(store, three_runs):
    store.record_observations([Observation(URL, "pets", version=1, state="AVAILABLE")])
    app = start(store, actor=OPERATOR)
    app.button(key="history_clear").click().run()
    app.button(key="history_clear_no").click().run()
    assert len(store.list_runs()) == 3
    app.button(key="history_clear").click().run()
    assert any("Delete every one of the 3 stored run(s)" in w.value for w in app.warning)
    app.button(key="history_clear_yes").click().run()
    assert store.list_runs() == [] and len(store.observations("pets")) == 1
    assert [i.value for i in app.info] == [escape_markdown("Cleared 3 run(s)."), EMPTY]


@pytest.mark.slow
def test_retention_keeps_the_configured_number_of_finished_runs(store, three_runs):
    running = seed(store, status="running")
    app = start(store, environ={"SERVESCOPE_MAX_RUNS_KEPT": "1"})
    assert runs_shown(app) == [running, three_runs[0]]   # a running run is never deleted
    assert any("Deleted 2 older run(s)" in i.value for i in app.info)
    bad = start(store, environ={"SERVESCOPE_MAX_RUNS_KEPT": "some"})
    assert "SERVESCOPE\\_MAX\\_RUNS\\_KEPT must be a whole number" in bad.error[0].value
    assert run_history.max_runs_kept({}) is None
    assert run_history.apply_configured_retention(store, {}) == []


def test_trends_per_version_from_the_rows(sqlite_store):
    store = sqlite_store
    seed(store, version=1, rows=[row(0, "a.jpg", "cat", "cat", 10), row(1, "b.jpg", "dog", "cat", 30)])
    seed(store, version=2, rows=[row(0, "a.jpg", "cat", "cat", 4), row(1, "b.jpg", "cat", "cat", 6),
                                 row(2, "c.jpg", "dog", None, 8)])
    summaries = store.list_runs()
    rows = {s.run.id: store.run_rows(s.run.id) for s in summaries}
    trends = run_history.trend_frame(summaries, rows)
    assert trends[["version", "accuracy", "latency_p50_ms"]].values.tolist() == [[1, 0.5, 20.0], [2, 1.0, 6.0]]
    mix = run_history.class_mix_frame(summaries, rows)
    assert mix.groupby("version")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    assert mix[mix["version"] == 2].set_index("class")["share"].to_dict() == pytest.approx({"cat": 2 / 3, "dog": 1 / 3})
    app = start(store)
    app.toggle(key="history_trends").set_value(True).run()
    assert not app.exception
    assert len(app.get("vega_lite_chart")) == 3


def test_an_empty_store_says_so(sqlite_store):
    app = start(sqlite_store)
    assert [i.value for i in app.info] == [EMPTY]


def test_run_query_params_accept_only_run_ids():
    assert run_query_params("0123abcd4567") == {"run": "0123abcd4567"}
    with pytest.raises(ValueError):
        run_query_params("x&y=1")


@pytest.mark.slow
def test_state_opens_one_store_per_database_and_keeps_the_session_id(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVESCOPE_DB", str(tmp_path / "a.db"))

    def script():
        import streamlit as st

        from dashboard.ui import state
        seen = (state.run_store().url, state.run_store() is state.run_store(), state.session_id())
        st.session_state["seen"] = [*st.session_state.get("seen", []), seen]

    app = AppTest.from_function(script, default_timeout=60).run()
    app.run()
    [(url, same, first), (_, _, second)] = app.session_state["seen"]
    assert (url, same) == (f"sqlite:///{tmp_path / 'a.db'}", True)
    assert first == second and len(first) == 32
    assert AppTest.from_function(script, default_timeout=60).run().session_state["seen"][0][2] != first


def test_the_runs_table_shows_each_runs_signature_digest_as_stored(store, three_runs):
    # The same "sha256:<hex>" string Compare and the report show for the signature (dashboard.server.signatures).
    digest = "sha256:" + "ab" * 32
    store.update_progress(three_runs[0], signature_digest=digest)
    summaries = [s for s in store.list_runs() if s.run.id in three_runs]
    table = run_history.runs_table(summaries).set_index("run")
    assert table.loc[three_runs[0], "signature"] == digest
    assert table.loc[three_runs[1], "signature"] == ""   # none recorded: blank, not "None"


def test_a_comparison_side_without_truth_says_so_and_no_difference_is_claimed(sqlite_store):
    from dashboard.history import listing
    known = seed(sqlite_store, kind="compare", rows=[row(0, "a.jpg", "cat", "cat")])
    unknown = seed(sqlite_store, kind="compare", rows=[row(0, "a.jpg", "cat")])
    by_id = {s.run.id: s for s in sqlite_store.list_runs()}
    assert listing.sides_text([by_id[known], by_id[unknown]]) == "A 100.0% → B no truth"
    with pytest.raises(ValueError, match="not a run or comparison id"):
        listing.Entry("x&y=1", "classify", by_id[known].run.created_at, (by_id[known],)).query
