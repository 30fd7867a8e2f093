"""The History page's body: every stored run (a comparison as one row), filters, a click on a row (or its open
link) opening it, search by file name, trends, export, retention, delete (its own selection) and clear.
Streamlit-facing; the logic is in dashboard.history.summaries and dashboard.history.listing, the charts in
dashboard.history.charts, delete and clear (checked against the visitor, dashboard.runs.ownership) in
dashboard.history.delete_view.

History is shared: every visitor sees every stored run; only the browser that started a run, or an operator, can
delete it, and only an operator can clear History (the page says so).

Every text that came from a file or a server (model names, targets, file names, errors) is shown in a
dataframe cell, a widget option, or escaped with dashboard.plain before it reaches a Markdown element.
"""
from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode
from typing import Any, Mapping, Sequence

import streamlit as st

from dashboard.history import charts as history_charts
from dashboard.history import dataset_view, delete_view, listing
from dashboard.history import datasets as by_dataset
from dashboard.history import summaries as run_history
from dashboard.plain import escape_markdown, visible_cells
from dashboard.runs import results
from dashboard.runs.keeping import forget_unused_images
from dashboard.runs.ownership import WHAT_IS_SHARED, WHO_MAY_DELETE, Actor
from dashboard.server import watch as server_watch
from client.store.database import RunSummary, Store, StoreError
from dashboard.targets import Target
from dashboard.ui import access, widgets

__all__ = ["render_history", "DEFAULT_OPEN_PAGES", "TREND_RUNS"]

# Where a stored run reopens, by kind; the page reads `?run=<id>` (st.query_params).
DEFAULT_OPEN_PAGES: Mapping[str, Any] = {"classify": "app_pages/classify.py", "compare": "app_pages/compare.py"}
TREND_RUNS = 100       # newest runs whose rows the trend charts read


def _error(store: Store, what: str, exc: Exception) -> None:
    # The store's message names the database; on screen it is "the run store" (no paths or URLs).
    st.error(escape_markdown(f"{what}: {str(exc).replace(store.url, 'the run store')}"), icon=":material/error:")


def render_history(store: Store, *, session_id: str | None = None, key_prefix: str = "history",
                   current_labels: Mapping[str, int | None] | None = None,
                   open_pages: Mapping[str, Any] | None = None, environ: Mapping[str, str] = os.environ,
                   actor: Actor | None = None) -> None:
    """Draw the History page for `store`. `session_id`: this browser session's id (as passed to RunManager),
    for the "this session only" filter. `current_labels`: label -> version now, for the label-moved notes;
    None reads the newest observation of each run's server and model from the store. `actor`: the visitor
    (default: this browser, dashboard.ui.access), whose runs they may delete."""
    visitor = actor or access.actor()
    pages = dict(open_pages or DEFAULT_OPEN_PAGES)
    if message := st.session_state.pop(f"{key_prefix}_message", None):
        st.info(escape_markdown(message))  # what the last delete or clear did (it may quote the store's error)
    try:
        _retention(store, key_prefix, environ)
        everything = store.list_runs()
    except StoreError as exc:
        _error(store, "The stored runs cannot be read", exc)
        return
    if not everything:
        st.info("No stored runs yet: classify or compare images first; every run is kept here.")
        return
    try:
        shown = _filtered_runs(store, everything, session_id, key_prefix)
        notes = _label_notes(store, shown, current_labels)
    except StoreError as exc:
        _error(store, "The stored runs cannot be read", exc)
        return
    try:
        listed = listing.entries(shown, everything, store.comparisons_of_run)
    except StoreError as exc:
        _error(store, "The stored comparisons cannot be read", exc)
        return
    st.caption(f"{len(shown)} of {len(everything)} stored run(s) shown in {len(listed)} row(s) (a comparison is "
               f"one row), newest first; times in UTC. Click a row, or its open link, to open it. {WHAT_IS_SHARED} "
               f"{WHO_MAY_DELETE}")
    try:
        verdicts = {entry.id: _verdict(store.url, entry.id, listing.verdict_key(entry), store, entry)
                    for entry in listed if entry.kind == "comparison"}
    except StoreError as exc:
        _error(store, "The comparisons' rows cannot be read", exc)
        verdicts = {}
    table = listing.entries_table(listed, lambda entry: _share_url(pages.get(entry.page_kind), entry), verdicts)
    table["note"] = [_entry_note(entry, notes) for entry in listed]
    table["yours"] = [any(visitor.started(s.run) for s in entry.sides) for entry in listed]
    existing = dataset_view.existing_datasets(store, shown)
    table["dataset"] = [by_dataset.dataset_cell([s.run for s in entry.sides], existing) for entry in listed]
    picked = st.dataframe(table, hide_index=True, key=f"{key_prefix}_runs", on_select="rerun",
                          selection_mode="single-row", column_config={
        "open": st.column_config.LinkColumn("open", display_text="open", help="Opens the run or comparison"),
        "run": st.column_config.TextColumn("id"),
        "yours": st.column_config.CheckboxColumn("this browser's", help="Started from this browser"),
        "time": st.column_config.DatetimeColumn("time", format="YYYY-MM-DD HH:mm:ss"),
        "version": st.column_config.TextColumn("version"),
        "accuracy": st.column_config.NumberColumn("accuracy", format="%.1f%%"),
        "verdict": st.column_config.TextColumn("verdict (comparisons)", width="large",
                                               help="B against the baseline A, as Compare decides it (McNemar's "
                                                    "exact test, α = 0.05)"),
        "sides": st.column_config.TextColumn("comparison sides (accuracy)", width="medium"),
        "profile": st.column_config.TextColumn("model profile", width="large",
                                               help="The profile's digest, where it came from, and what it is"),
        "note": st.column_config.TextColumn("label now", width="large"),
        "dataset": st.column_config.TextColumn("dataset", help="The dataset version it ran on (empty: an upload)")})
    _open_selected(picked, listed, pages, key_prefix)
    _export(store, shown, everything, key_prefix)
    delete_view.delete_section(store, shown, everything, key_prefix, visitor)
    _search(store, key_prefix)
    _trends(store, shown, key_prefix, existing)
    delete_view.clear_all(store, len(everything), key_prefix, visitor)


@st.cache_data(max_entries=500, show_spinner=False)
def _verdict(database: str, entry_id: str, key: tuple, _store: Store, _entry: listing.Entry) -> str:
    """A comparison's verdict, read once per state of its runs (listing.verdict_key) and shared by every session."""
    return listing.verdict_text(_entry, _store.run_rows)


def _retention(store: Store, key_prefix: str, environ: Mapping[str, str]) -> None:
    try:
        limit = run_history.max_runs_kept(environ)
    except ValueError as exc:
        st.error(escape_markdown(exc), icon=":material/settings:")
        return
    if limit is None:
        st.caption(f"Every run is kept ({run_history.MAX_RUNS_KEPT_SETTING} is not set).")
        return
    deleted = store.apply_retention(limit)
    st.caption(f"The newest {limit} finished run(s) are kept ({run_history.MAX_RUNS_KEPT_SETTING}).")
    if deleted:
        forget_unused_images(store)   # the images only those runs kept
        st.info(f"Deleted {len(deleted)} older run(s) beyond the newest {limit}.", icon=":material/auto_delete:")


def _filtered_runs(store: Store, everything: Sequence[RunSummary], session_id: str | None,
                   key_prefix: str) -> list[RunSummary]:
    models = sorted({s.run.model for s in everything})
    versions = sorted({s.run.version for s in everything if s.run.version is not None})
    columns = st.columns(5)
    model = columns[0].selectbox("Model", [None, *models], key=f"{key_prefix}_model",
                                 format_func=lambda m: "every model" if m is None else m)
    version = columns[1].selectbox("Version", [None, *versions], key=f"{key_prefix}_version",
                                   format_func=lambda v: "every version" if v is None else f"version {v}")
    kind = columns[2].selectbox("Kind", [None, "classify", "compare"], key=f"{key_prefix}_kind",
                                format_func=lambda k: "every kind" if k is None else k)
    span = columns[3].date_input("Started (UTC)", value=(), key=f"{key_prefix}_dates", help="One day or a range; "
                                "empty for every day")
    mine = columns[4].toggle("This session only", key=f"{key_prefix}_mine", disabled=session_id is None)
    since, until = _day_bounds(span)
    return store.list_runs(model=model, version=version, kind=kind, since=since, until=until,
                           session_id=session_id if mine else None)


def _day_bounds(span: Any) -> tuple[datetime | None, datetime | None]:
    """A date_input value (a date, or a one/two-date tuple while choosing) as [since, until) in UTC."""
    chosen = [d for d in (span if isinstance(span, (tuple, list)) else (span,)) if isinstance(d, date)]
    if not chosen:
        return None, None
    start, end = min(chosen), max(chosen)
    return (datetime.combine(start, time.min, timezone.utc),
            datetime.combine(end + timedelta(days=1), time.min, timezone.utc))


def _label_notes(store: Store, shown: Sequence[RunSummary],
                 current_labels: Mapping[str, int | None] | None) -> dict[str, str]:
    now: dict[tuple[str, str], Mapping[str, int | None]] = {}
    notes = {}
    for summary in shown:
        run = summary.run
        if Target.parse(run.target).label is None:
            continue
        if current_labels is not None:
            labels = current_labels
        else:
            if (run.url, run.model) not in now:
                now[(run.url, run.model)] = server_watch.latest_labels(store, run.url, run.model)
            labels = now[(run.url, run.model)]
        if note := results.label_moved_note(run, labels):
            notes[run.id] = note
    return notes


def _entry_note(entry: listing.Entry, notes: Mapping[str, str]) -> str:
    if entry.kind != "comparison":
        return notes.get(entry.id) or ""
    return "; ".join(f"{'ABCDEFGHIJ'[i]}: {notes[s.run.id]}" for i, s in enumerate(entry.sides[:10])
                     if s.run.id in notes)


def _url_path(page: Any) -> str:
    return getattr(page, "url_path", None) or Path(str(page)).stem


def _share_url(page: Any, entry: listing.Entry) -> str | None:
    """The address a colleague can open: this dashboard's address with the page and `?run=<id>` (or
    `?comparison=<id>`); None when no page opens this kind."""
    if page is None:
        return None
    return widgets.page_address(_url_path(page), urlencode(entry.query))


def _open_selected(picked: Any, listed: Sequence[listing.Entry], pages: Mapping[str, Any], key_prefix: str) -> None:
    """A clicked row opens its run (Classify) or comparison (Compare); the selection is cleared first so coming
    back to History does not open it again."""
    rows = list(getattr(getattr(picked, "selection", None), "rows", None) or [])
    if not rows or not 0 <= rows[0] < len(listed):
        return
    entry = listed[rows[0]]
    page = pages.get(entry.page_kind)
    if page is None:
        return
    del st.session_state[f"{key_prefix}_runs"]
    st.switch_page(page, query_params=entry.query)


def _export(store: Store, shown: Sequence[RunSummary], everything: Sequence[RunSummary], key_prefix: str) -> None:
    st.subheader("Export")
    chosen = delete_view.pick_runs("Runs to export", shown, everything, f"{key_prefix}_export_selected",
                                   select_all=True)
    if not chosen:
        return
    formats = run_history.export_formats()
    fmt = st.radio("Format", formats, horizontal=True, key=f"{key_prefix}_format", format_func=str.upper)
    if not run_history.parquet_available():
        st.caption("Parquet export needs pyarrow, which is not installed in this dashboard's environment.")
    run_ids = [s.run.id for s in chosen]
    try:
        exported = run_history.export(store, run_ids, fmt)
    except (StoreError, LookupError) as exc:
        _error(store, "The runs cannot be exported", exc)
        return
    st.download_button(f"Download {len(run_ids)} run(s) as {fmt.upper()}", exported.data,
                       file_name=exported.file_name, mime=exported.mime, key=f"{key_prefix}_download",
                       on_click="ignore", icon=":material/download:")


def _search(store: Store, key_prefix: str) -> None:
    st.subheader("Find a file in every run")
    text = st.text_input("File name contains", key=f"{key_prefix}_search", placeholder="e.g. cat_12.jpg")
    if not text.strip():
        return
    try:
        found = store.search_sources(text.strip())
    except StoreError as exc:
        _error(store, "The search failed", exc)
        return
    st.caption(f"{len(found)} row(s) found" + (" (the first 500)" if len(found) >= 500 else "") + ".")
    st.dataframe(visible_cells(found), hide_index=True, key=f"{key_prefix}_found", column_config={
        "created_at": st.column_config.DatetimeColumn("run started", format="YYYY-MM-DD HH:mm:ss"),
        "run_version": st.column_config.NumberColumn("version", format="%d"),
        "confidence": st.column_config.NumberColumn("confidence", format="percent")})


def _trends(store: Store, shown: Sequence[RunSummary], key_prefix: str, existing: set[str] = frozenset()) -> None:
    st.subheader("Trends per version")
    if not st.toggle("Show trends (reads the rows of the newest runs shown)", key=f"{key_prefix}_trends"):
        return
    if dataset_view.dataset_trends(store, shown, existing, key_prefix, limit=TREND_RUNS):
        return   # the runs on one dataset version (the same images), not every run shown
    newest = [s for s in shown if s.run.finished and s.run.version is not None][:TREND_RUNS]
    try:
        rows = {s.run.id: store.run_rows(s.run.id) for s in newest}
    except StoreError as exc:
        _error(store, "The rows for the trends cannot be read", exc)
        return
    trends = run_history.trend_frame(newest, rows)
    if trends.empty:
        st.info("No finished run with an answering version among the runs shown.")
        return
    if trends["accuracy"].notna().any():
        st.altair_chart(history_charts.accuracy_trend_chart(trends), width="stretch")
    else:
        st.caption("No run shown knows its ground truth, so there is no accuracy to chart.")
    if trends["latency_p50_ms"].notna().any():
        st.altair_chart(history_charts.latency_trend_chart(trends), width="stretch")
    mix = run_history.class_mix_frame(newest, rows)
    if not mix.empty:
        st.altair_chart(history_charts.class_mix_chart(mix))
