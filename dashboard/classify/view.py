"""The view of one stored classify run: progress while it runs, then its honest final status, retry, the
evaluation (dashboard.evaluate.view), the results table with filters and corrections, one image in detail (with what
the model saw, dashboard.ui.seen_view), exports and the request inspector. The Classify page draws the run it
started or `?run=<id>`; History's "open a run" reuses this.

File names, truth values and server texts go to st.dataframe / st.data_editor / st.text / st.code, or through
dashboard.plain.escape_markdown into Markdown elements.
"""
from __future__ import annotations

import hashlib
from typing import Mapping, Sequence

import pandas as pd
import streamlit as st

from client import schema
from client.sources import Skipped
from dashboard import charts
from dashboard.classify import display as tables
from dashboard.evaluate import view as evaluation_view
from dashboard.plain import escape_markdown, visible
from dashboard.runs import results as classify_runs
from dashboard.runs.manager import ItemsUnavailable, RetryUnavailable
from dashboard.runs.ownership import Actor, NotAllowed, ownership_note
from dashboard.runs.results import label_moved_note
from dashboard.server import watch as server_watch
from client.store.database import RunInfo, Store, StoreError
from dashboard.ui import access, inspector_view, seen_view, state, widgets
from dashboard.ui import run_progress as runs_view

__all__ = ["render_run", "status_line"]

PREVIEW_WIDTH = 420
# Rows per page of the results table: each row carries its thumbnail as a data URI, so a large run drawn at once
# would send all of them to the browser before the table appears.
TABLE_PAGE_ROWS = 100


@st.cache_resource(show_spinner=False, max_entries=16)
def _thumbnails(database: str, run_id: str, done: int, finished: object, stored: int) -> dict[int, str]:
    """position -> data URI; shared by every session showing the run. Stored thumbnails never change for a given
    row count, finish time and number of thumbnails (they can arrive after the rows), so these are the key."""
    store = state.run_store()
    return classify_runs.thumbnail_uris(store, run_id)


def status_line(run: RunInfo) -> str:
    """'complete: 57 of 60 image(s) classified, 3 failed' — run.outcome(), which never hides a failure."""
    return run.outcome()


def _final_status(run: RunInfo) -> None:
    text = escape_markdown(f"Run {run.id}: {status_line(run)}.", limit=1200)
    if run.status == "complete" and not run.errors:
        st.success(text, icon=":material/check_circle:")
    elif run.status == "failed":
        st.error(text, icon=":material/error:")
    else:
        st.warning(text, icon=":material/warning:")
    _assumed(run)


def _assumed(run: RunInfo) -> None:
    """A pixel model classified without a profile: its results may be wrong, and the page says so."""
    if note := classify_runs.assumed_note(run.model, run.profile):
        st.warning(escape_markdown(note[0].upper() + note[1:] + ".", limit=None), icon=":material/tune:")


def _describe(run: RunInfo) -> str:
    answered = f" → version {run.version}" if run.version is not None else ""
    return (f"{run.model} at {run.url}, {run.target}{answered}; started {run.created_at:%Y-%m-%d %H:%M:%S} UTC"
            + (f", {run.elapsed_s:.1f} s" if run.elapsed_s else "")
            + (f"; model profile {classify_runs.profile_text(run.profile)}" if run.profile else "")
            + (f"; signature {run.signature_digest}" if run.signature_digest else ""))


def _retry(run: RunInfo, key_prefix: str, visitor: Actor) -> None:
    left = run.errors + (run.total - run.done)
    if not left or not run.finished or not visitor.may_act(run):
        return
    if st.button(f"Retry failed rows ({left})", key=f"{key_prefix}_retry", icon=":material/replay:",
                 help="Send only the images that failed (or never ran) again, to the version that answered"):
        try:
            state.run_manager().retry_failed(run.id)
        except (RetryUnavailable, NotAllowed, LookupError, StoreError) as exc:
            widgets.show_error(exc)
            return
        st.rerun()


def _page_of(shown: pd.DataFrame, key_prefix: str) -> pd.DataFrame:
    """The page of the filtered rows the analyst picked (TABLE_PAGE_ROWS each; no picker for one page)."""
    pages = -(-len(shown) // TABLE_PAGE_ROWS)
    if pages <= 1:
        return shown
    def rows_text(page: int) -> str:
        first = page * TABLE_PAGE_ROWS
        return f"rows {first + 1}–{min(first + TABLE_PAGE_ROWS, len(shown))} of {len(shown)}"
    # The page count is in the key: other filters start again on the first page.
    page = st.selectbox("Page", range(pages), format_func=rows_text, key=f"{key_prefix}_table_page_{pages}")
    return shown.iloc[page * TABLE_PAGE_ROWS:(page + 1) * TABLE_PAGE_ROWS]


def _corrections_table(stored: classify_runs.StoredRun, shown: pd.DataFrame, store: Store, key_prefix: str,
                       editable: bool) -> None:
    names = stored.class_names
    shown = _page_of(shown, key_prefix)
    frame = classify_runs.table_frame(stored, shown.index)
    display = tables.for_display(frame.drop(columns=["correction"])).assign(
        correction=frame["correction"].astype(object).where(frame["correction"].notna(), None))
    columns = widgets.result_columns(names, tables.latency_scale_ms(frame["latency_ms"]))
    columns.update({
        "name": st.column_config.TextColumn("file", help="Short name; the detail view below shows the full path"),
        "ground_truth": st.column_config.TextColumn("truth"),
        "correct": st.column_config.CheckboxColumn("correct"),
        "correction": st.column_config.SelectboxColumn("correction", options=names,
                                                       help="The right class; clear it to use the detected truth"),
    })
    order = tables.column_order(display, leading=("thumbnail", "name"),
                                hidden=["source", "confidence", "model", "target", "error_type", "corrected_at"])
    if not editable:
        st.dataframe(display, hide_index=True, column_config=columns, column_order=order, key=f"{key_prefix}_table")
        return
    generation = st.session_state.get(f"{key_prefix}_table_generation", 0)
    # The editor keeps its edits by row position: a new key whenever the rows shown change, or after a save.
    digest = hashlib.sha1(repr(tuple(shown.index)).encode()).hexdigest()[:10]
    edited = st.data_editor(display, hide_index=True, column_config=columns, column_order=order,
                            disabled=[c for c in display.columns if c != "correction"],
                            key=f"{key_prefix}_table_{generation}_{digest}")
    changes = evaluation_view.pending_corrections(display, edited)
    if changes:
        try:
            for source, correction in changes:
                store.set_correction(stored.run.id, source, correction)
        except (StoreError, LookupError) as exc:
            widgets.show_error(f"The correction was not saved: {exc}")
            return
        st.session_state[f"{key_prefix}_table_generation"] = generation + 1
        st.rerun()  # the metrics above move at once


def _detail(stored: classify_runs.StoredRun, key_prefix: str, preview: bytes | None) -> None:
    good = stored.classified_positions()
    if not good:
        return
    names = dict(zip(stored.rows.index, classify_runs.short_names(stored.rows["source"].tolist())))
    st.subheader("One image")
    chosen = good[0] if len(good) == 1 else st.selectbox(
        "Image", good, key=f"{key_prefix}_detail", format_func=lambda position: visible(names[position]))
    row = stored.rows.loc[chosen]
    image, chart = st.columns([2, 3])
    with image:
        picture = preview if preview is not None and len(stored.rows) == 1 else stored.thumbnails.get(chosen)
        if picture is not None:
            st.image(picture, width=PREVIEW_WIDTH if preview is not None else 192)
        st.text(visible(row["source"]))  # the full path, as plain text
    with chart:
        probabilities = {c: row[schema.prob_column(c)] for c in stored.class_names}
        st.altair_chart(charts.probability_chart(probabilities, title="Class probabilities"), width="stretch")
        if top5 := classify_runs.top5_of(stored.extras.get(chosen)):
            st.altair_chart(charts.top5_chart(top5), width="stretch")
    seen_view.seen_by_model(stored.run, chosen, str(row["source"]))


def _single_image(stored: classify_runs.StoredRun, preview: bytes | None) -> None:
    """A run of one image: the image large, its probability bars and top-5 (nothing when it failed: its error is
    listed above)."""
    good = stored.classified_positions()
    if not good:
        return
    row = stored.rows.loc[good[0]]
    image, chart = st.columns([1, 1])
    with image:
        picture = preview if preview is not None else stored.thumbnails.get(good[0])
        if picture is not None:
            st.image(picture, width=PREVIEW_WIDTH if preview is not None else "content")
        st.text(visible(row["source"]))
    with chart:
        truth = row.get("correction") if pd.notna(row.get("correction")) else row.get("ground_truth")
        st.metric("Predicted class", visible(str(row["top_class"])), delta=f"{row['confidence']:.1%} confidence",
                  delta_color="off", delta_arrow="off")
        if truth is not None and pd.notna(truth):
            st.text(visible(f"True class: {truth}"))
        probabilities = {c: row[schema.prob_column(c)] for c in stored.class_names}
        st.altair_chart(charts.probability_chart(probabilities, title="Class probabilities"), width="stretch")
        if top5 := classify_runs.top5_of(stored.extras.get(good[0])):
            st.altair_chart(charts.top5_chart(top5), width="stretch")
    seen_view.seen_by_model(stored.run, good[0], str(row["source"]))


def frame_truth_known(frame: pd.DataFrame) -> bool:
    return any(frame[column].notna().any() for column in ("ground_truth", "correction") if column in frame)


def truth_line(frame: pd.DataFrame) -> str:
    """'N of M images have ground truth (K corrected)': the truth in effect, a correction counting as truth."""
    detected = frame["ground_truth"] if "ground_truth" in frame else pd.Series(None, index=frame.index)
    corrected = frame["correction"].notna() if "correction" in frame else pd.Series(False, index=frame.index)
    known = int((detected.notna() | corrected).sum())
    return f"{known} of {len(frame)} images have ground truth ({int(corrected.sum())} corrected)"


def _compare_offer(run: RunInfo, key_prefix: str, visitor: Actor) -> None:
    """"Compare with…": the same images against other versions, while this process still holds them and they are
    this visitor's to reuse (dashboard.runs.ownership)."""
    if not visitor.may_see_private(run):
        return
    try:
        state.run_manager().items_of(run.id)
    except (ItemsUnavailable, StoreError):
        return
    if st.button("Compare these images with other versions…", key=f"{key_prefix}_compare",
                 icon=":material/compare:"):
        state.request_compare(run.id)
        st.switch_page("app_pages/compare.py")


def _exports(stored: classify_runs.StoredRun, key_prefix: str) -> None:
    # Made when pressed (Streamlit calls `data` then), not on every rerun.
    rows, names = stored.rows, stored.class_names
    left, right = st.columns(2)
    left.download_button("Download results (CSV)", lambda: classify_runs.csv_bytes(rows, names),
                         file_name=f"classify-{stored.run.id}.csv", mime="text/csv", key=f"{key_prefix}_download")
    right.download_button("Download results (JSON)", lambda: classify_runs.json_bytes(rows, names),
                          file_name=f"classify-{stored.run.id}.json", mime="application/json",
                          key=f"{key_prefix}_download_json")


def _labels_now(store: Store, run: RunInfo, current_labels: Mapping[str, int | None] | None,
                server_labels: tuple[str, str, Mapping[str, int]] | None) -> Mapping[str, int | None]:
    if current_labels is not None:
        return current_labels
    if server_labels is not None and server_labels[:2] == (run.url, run.model):
        return server_labels[2]   # what the server said a moment ago
    return server_watch.latest_labels(store, run.url, run.model)   # what it said when last observed


def render_run(run_id: str, *, key_prefix: str = "classify", current_labels: Mapping[str, int | None] | None = None,
               server_labels: tuple[str, str, Mapping[str, int]] | None = None, editable: bool = True,
               preview: bytes | None = None, skipped: Sequence[Skipped] = ()) -> None:
    """Draw stored run `run_id`. The label-moved note compares the run's labels with `current_labels` (label ->
    version now), else `server_labels` ((url, model, labels) the page just read) when the run used that server and
    model, else the store's newest observations. `preview`: a single image's bytes to show large (the session that
    started the run has them); `skipped`: the archive members the upload left out."""
    store = state.run_store()
    try:
        run = store.get_run(run_id)
        if run is None:
            st.warning(escape_markdown(f"Run {run_id} is not in the run store (deleted, or another database)."),
                       icon=":material/search_off:")
            return
        st.subheader(f"Run {run.id}")
        st.caption(escape_markdown(_describe(run), limit=1200))
        if run.profile is not None and run.profile.preparation and not run.profile.assumed:
            st.caption(escape_markdown(f"Preparation: {run.profile.preparation}", limit=1200))
        visitor = access.actor()
        if note := ownership_note(visitor, run):
            st.caption(note)
        if not run.finished:
            runs_view.run_progress(run.id, key_prefix, may_cancel=visitor.may_act(run))
            return
        _final_status(run)
        runs_view.thumbnails_slot(run.id, state.run_manager().thumbnails_pending(run.id))
        thumbnails = _thumbnails(store.url, run.id, run.done, run.finished_at, store.thumbnail_count(run.id))
        stored = classify_runs.load_stored_run(store, run.id, thumbnails=thumbnails)
        labels = _labels_now(store, run, current_labels, server_labels)
    except StoreError as exc:
        widgets.show_error(f"The run cannot be read from the run store: {exc}")
        return
    if note := label_moved_note(run, labels):
        st.warning(escape_markdown(note), icon=":material/label:")
    if stored is None:
        return
    _retry(run, key_prefix, visitor)
    widgets.show_failures(stored.rows["error"].dropna().tolist())
    widgets.show_skipped(skipped)
    if stored.rows.empty or not stored.class_names:
        return
    frame, names = stored.rows, stored.class_names
    if len(frame) == 1:
        _single_image(stored, preview)   # like a classifier demo: no histogram, review queue or table
    else:
        if run.truth_summary or frame_truth_known(frame):
            st.text(truth_line(frame))
        if run.truth_summary:
            st.caption(escape_markdown(f"At upload: {run.truth_summary}"))
        by_source = stored.thumbnails_by_source()
        threshold = evaluation_view.render_evaluation(frame, names, key_prefix=f"{key_prefix}_eval",
                                                      thumbnails=by_source)
        st.subheader("Results")
        shown = evaluation_view.render_result_filters(frame, names, key_prefix=f"{key_prefix}_results",
                                                      threshold=threshold)
        _corrections_table(stored, shown, store, key_prefix, editable)
        _detail(stored, key_prefix, preview)
    _exports(stored, key_prefix)
    if editable:
        _compare_offer(run, key_prefix, visitor)
    if visitor.may_see_private(run):
        inspector_view.render_inspector(state.request_inspector().log(run.id), key_prefix=key_prefix)
    else:
        inspector_view.render_inspector(None, key_prefix=key_prefix, private=True)
    state.run_manager().results_drawn(run.id)   # its thumbnails waited for this drawing (dashboard.runs.thumbnails)
