"""The view of one stored classify run: progress while it runs, then its honest final status, retry, the
evaluation (dashboard.evaluate.view), the results table with filters, the image detail view a click on a row or
tile opens (dashboard.evaluate.detail_view: corrections are made there; with what the model saw,
dashboard.ui.seen_view), exports and the request inspector. The Classify page draws the run it started or
`?run=<id>`; History's "open a run" reuses this.

File names, truth values and server texts go to st.dataframe / st.data_editor / st.text / st.code, or through
dashboard.plain.escape_markdown into Markdown elements.
"""
from __future__ import annotations

import functools

import hashlib
from typing import Callable, Mapping, Sequence

import pandas as pd
import streamlit as st

from client import schema
from client.sources import Skipped
from dashboard import charts
from dashboard.classify import display as tables
from dashboard.evaluate import detail_view
from dashboard.evaluate import view as evaluation_view
from dashboard.plain import escape_markdown, visible
from dashboard.runs import results as classify_runs
from dashboard.runs.manager import RetryUnavailable
from dashboard.runs.ownership import Actor, NotAllowed, ownership_note
from dashboard.runs.results import label_moved_note
from dashboard.server import watch as server_watch
from client.store.database import RunInfo, Store, StoreError
from dashboard.ui import access, full_image, inspector_view, run_images, seen_view, state, widgets
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


def _results_table(stored: classify_runs.StoredRun, shown: pd.DataFrame, key_prefix: str) -> None:
    """The filtered rows (a page of them); clicking a row opens the image detail view (dashboard.evaluate.detail_view)
    on it, with this page of the table as its queue: the image large, where the model looked and, for this
    browser's run, the correction control."""
    names = stored.class_names
    shown = _page_of(shown, key_prefix)
    frame = classify_runs.table_frame(stored, shown.index)
    display = tables.for_display(frame)
    columns = widgets.result_columns(names, tables.latency_scale_ms(frame["latency_ms"]))
    columns.update({
        "name": st.column_config.TextColumn("file", help="Short name; click the row for the full path and more"),
        "ground_truth": st.column_config.TextColumn("truth"),
        "correct": st.column_config.CheckboxColumn("correct"),
        "correction": st.column_config.TextColumn("correction"),
    })
    order = tables.column_order(display, leading=("thumbnail", "name", "top_class", "correction"),
                                hidden=["source", "confidence", "model", "target", "error_type", "corrected_at"])
    st.caption("Click a row to open the image: large, its probabilities, where the model looked and its "
               "correction (keys 1–9 and Enter).")
    # The rows shown are in the key: a new filter or page starts without a selection.
    digest = hashlib.sha1(repr(tuple(shown.index)).encode()).hexdigest()[:10]
    table_key = f"{key_prefix}_table_{digest}"
    event = st.dataframe(display, hide_index=True, column_config=columns, column_order=order, key=table_key,
                         on_select="rerun", selection_mode="single-row")
    detail_view.follow_table(event, frame["source"].astype(str).tolist(), key=key_prefix, table_key=table_key,
                             queue_name="the results table")


def _correction_saver(store: Store, run: RunInfo) -> Callable[[str, str | None], None]:
    def save(source: str, correction: str | None) -> None:
        try:
            store.set_correction(run.id, source, correction)
        except (StoreError, LookupError) as exc:
            st.session_state[f"correction_error_{run.id}"] = f"The correction was not saved: {exc}"
    return save


def _single_image(stored: classify_runs.StoredRun, preview: bytes | None, key_prefix: str) -> None:
    """A run of one image: the image large, its probability bars and top-5 (nothing when it failed: its error is
    listed above), and where the model looked."""
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
    if (detail := tables.detail_image(stored, str(row["source"]))) is not None:
        detail_view.render_where_it_looked(detail, key_prefix)
    seen_view.seen_by_model(stored.run, good[0], str(row["source"]))


def _seen(stored: classify_runs.StoredRun, source: str) -> None:
    """What the model saw of the image named `source` (the detail view's last section)."""
    positions = stored.rows.index[stored.rows["source"] == source]
    if len(positions):
        seen_view.seen_by_model(stored.run, int(positions[0]), source)


def frame_truth_known(frame: pd.DataFrame) -> bool:
    return any(frame[column].notna().any() for column in ("ground_truth", "correction") if column in frame)


def truth_line(frame: pd.DataFrame) -> str:
    """'N of M images have ground truth (K corrected)': the truth in effect, a correction counting as truth."""
    detected = frame["ground_truth"] if "ground_truth" in frame else pd.Series(None, index=frame.index)
    corrected = frame["correction"].notna() if "correction" in frame else pd.Series(False, index=frame.index)
    known = int((detected.notna() | corrected).sum())
    return f"{known} of {len(frame)} images have ground truth ({int(corrected.sum())} corrected)"


def _compare_offer(run: RunInfo, key_prefix: str, visitor: Actor) -> None:
    """"Compare with…": the same images against other versions, when this process still holds them, the run kept
    them in the image store or ran on a dataset, and they are this visitor's to reuse (dashboard.runs.ownership);
    else the reason it is not offered."""
    if (why_not := run_images.why_not_reusable(run, visitor)) is not None:
        st.caption(escape_markdown(f"Comparing these images with other versions is not offered: {why_not}."))
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
        run_images.render_images_note(run)
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
    if message := st.session_state.pop(f"correction_error_{run.id}", None):
        widgets.show_error(message)
    if len(frame) == 1:
        _single_image(stored, preview, key_prefix)   # like a classifier demo: no histogram, review queue or table
    else:
        if run.truth_summary or frame_truth_known(frame):
            st.text(truth_line(frame))
        if run.truth_summary:
            st.caption(escape_markdown(f"At upload: {run.truth_summary}"))
        by_source = stored.thumbnails_by_source()
        threshold = evaluation_view.render_evaluation(frame, names, key_prefix=f"{key_prefix}_eval",
                                                      thumbnails=by_source, detail_key=key_prefix,
                                                      open_image=full_image.image_opener(run, frame, visitor))
        st.subheader("Results")
        shown = evaluation_view.render_result_filters(frame, names, key_prefix=f"{key_prefix}_results",
                                                      threshold=threshold)
        _results_table(stored, shown, key_prefix)
        run_images.corrections_offer(run, key_prefix)
        detail_view.show_if_open(key_prefix, class_names=names,
                                 image_of=lambda source: tables.detail_image(stored, source),
                                 on_correction=_correction_saver(store, run) if editable else None,
                                 seen_of=functools.partial(_seen, stored))
    _exports(stored, key_prefix)
    if editable:
        _compare_offer(run, key_prefix, visitor)
    if visitor.may_see_private(run):
        inspector_view.render_inspector(state.request_inspector().log(run.id), key_prefix=key_prefix)
    else:
        inspector_view.render_inspector(None, key_prefix=key_prefix, private=True)
    state.run_manager().results_drawn(run.id)   # its thumbnails waited for this drawing (dashboard.runs.thumbnails)
