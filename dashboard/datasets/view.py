"""The Datasets page's body: every dataset (size, class balance, truth coverage, versions, runs), and for the one
chosen its versions, the runs made on each (links that open them), two stored runs on one version compared
afterwards (no image classified again), export, and delete with its own confirmation. Streamlit-facing; the tables
are dashboard.datasets.listing's.

Datasets are shared by every visitor (like History); deleting one is for the browser that created it, or an
operator (dashboard.runs.ownership.Actor.may_delete_dataset), checked again when the deletion is confirmed. Names
and notes are the analysts' text: shown in table cells and widget options made `visible`, or escaped with
dashboard.plain before a Markdown element.
"""
from __future__ import annotations

import importlib.util
import re
from typing import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from client.store import Datasets, DatasetSummary, DatasetVersion, RunSummary, Store, StoreError
from dashboard.datasets import listing
from dashboard.plain import escape_markdown, visible
from dashboard.runs.ownership import WHO_MAY_DELETE_DATASET
from dashboard.ui import access, state, widgets

__all__ = ["render_datasets", "export_file_name"]

COMPARE_PAGE = "app_pages/compare.py"
RUN_PAGES = {"classify": "app_pages/classify.py", "compare": COMPARE_PAGE}
_MIME = {"csv": "text/csv", "jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}


def _error(what: str, exc: Exception) -> None:
    st.error(escape_markdown(f"{what}: {exc}"), icon=":material/error:")


def render_datasets(store: Store, *, key_prefix: str = "datasets") -> None:
    """Draw the Datasets page on the app's run store and image store."""
    if message := st.session_state.pop(f"{key_prefix}_message", None):
        st.info(escape_markdown(message, limit=1200), icon=":material/info:")
    try:
        data = state.datasets()
        summaries = data.summaries()
    except StoreError as exc:
        _error("The datasets cannot be read", exc)
        return
    if not summaries:
        st.info("No datasets yet. Upload images on Classify and save them as a dataset (below the upload), or run "
                "`python -m client dataset create NAME PATH... --truth folders`.", icon=":material/dataset:")
        return
    st.caption(f"{len(summaries)} dataset(s), shared by every visitor; the figures are of each dataset's newest "
               "version. Times in UTC.")
    st.dataframe(listing.datasets_frame(summaries), hide_index=True, key=f"{key_prefix}_table", column_config={
        "truth": st.column_config.NumberColumn("truth coverage", format="%.1f%%"),
        "classes": st.column_config.TextColumn("class balance (truth)", width="large"),
        "runs": st.column_config.NumberColumn("runs", help="Runs made on any of its versions"),
        "updated": st.column_config.DatetimeColumn("newest version", format="YYYY-MM-DD HH:mm")})
    by_name = {summary.name: summary for summary in summaries}
    name = st.selectbox("Dataset", list(by_name), key=f"{key_prefix}_chosen", format_func=visible)
    _dataset(data, store, by_name[name], key_prefix)


def _dataset(data: Datasets, store: Store, summary: DatasetSummary, key_prefix: str) -> None:
    try:
        versions = data.versions(summary.name)
        runs = data.runs(versions[-1])
    except StoreError as exc:   # deleted meanwhile, or the store failed
        _error("The dataset cannot be read", exc)
        return
    st.subheader(escape_markdown(f"{summary.name}, version {summary.latest_version}"), anchor=False)
    columns = st.columns(4)
    columns[0].metric("Images", f"{summary.images:,}", help=listing.megabytes(summary.bytes))
    columns[1].metric("Truth coverage", "—" if summary.truth_coverage is None else f"{summary.truth_coverage:.1%}",
                      help=f"{summary.truth_known:,} of {summary.images:,} image(s) have a truth label")
    columns[2].metric("Versions", f"{len(versions)}")
    columns[3].metric("Runs", f"{len(runs)}")
    if summary.class_balance:
        st.altair_chart(_balance_chart(summary), width="stretch")
    st.markdown("**Versions**")
    st.dataframe(listing.versions_frame(versions, runs), hide_index=True, key=f"{key_prefix}_versions",
                 column_config={"created": st.column_config.DatetimeColumn("made", format="YYYY-MM-DD HH:mm"),
                                "truth": st.column_config.NumberColumn("with truth"),
                                "note": st.column_config.TextColumn("how it was made", width="large")})
    _runs(runs, key_prefix)
    _compare_two(store, runs, versions, key_prefix)
    _export(data, versions, key_prefix)
    _delete(data, summary, len(versions), key_prefix)


def _balance_chart(summary: DatasetSummary) -> alt.Chart:
    frame = pd.DataFrame({"label": [visible(label) for label in summary.class_balance],
                          "images": list(summary.class_balance.values())})
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("images:Q", title="images"), y=alt.Y("label:N", sort="-x", title="truth"),
        tooltip=["label:N", "images:Q"]).properties(title="Class balance of the newest version", height=alt.Step(22))


def _address(summary: RunSummary) -> str:
    return widgets.page_address(listing.run_page(summary.run.kind), f"run={summary.run.id}")


def _runs(runs: Sequence[RunSummary], key_prefix: str) -> None:
    st.markdown("**Runs made on it** (click a row, or its open link, to open it)")
    if not runs:
        st.caption("No run yet: choose this dataset on Classify or Compare, or run "
                   "`python -m client classify --dataset NAME`.")
        return
    newest = runs[0]
    st.page_link(RUN_PAGES[listing.run_page(newest.run.kind)], label=escape_markdown(f"Newest run: {_run_text(newest)}"),
                 icon=":material/open_in_new:", query_params={"run": newest.run.id})
    picked = st.dataframe(listing.runs_frame(runs, _address), hide_index=True, key=f"{key_prefix}_runs",
                          on_select="rerun", selection_mode="single-row", column_config={
        "open": st.column_config.LinkColumn("open", display_text="open", help="Opens the run (a comparison's side "
                                                                              "opens its comparison)"),
        "version": st.column_config.NumberColumn("dataset version"),
        "time": st.column_config.DatetimeColumn("time", format="YYYY-MM-DD HH:mm:ss"),
        "answered": st.column_config.TextColumn("model version"),
        "accuracy": st.column_config.NumberColumn("accuracy", format="%.1f%%")})
    rows = list(getattr(getattr(picked, "selection", None), "rows", None) or [])
    if rows and 0 <= rows[0] < len(runs):   # a clicked row opens its run (the selection cleared for coming back)
        chosen = runs[rows[0]].run
        del st.session_state[f"{key_prefix}_runs"]
        st.switch_page(RUN_PAGES[listing.run_page(chosen.kind)], query_params={"run": chosen.id})


def _run_text(summary: RunSummary) -> str:
    run = summary.run
    accuracy = "no truth" if summary.accuracy is None else f"{summary.accuracy:.1%}"
    answered = f" → version {run.version}" if run.version is not None else ""
    return visible(f"{run.id}: {run.target}{answered}, {run.created_at:%Y-%m-%d %H:%M}, {accuracy}")


def _compare_two(store: Store, runs: Sequence[RunSummary], versions: Sequence[DatasetVersion],
                 key_prefix: str) -> None:
    """Two stored runs on the same version, compared on the Compare page without classifying anything again."""
    st.markdown("**Compare two stored runs**")
    usable = [v.version for v in reversed(list(versions)) if len(listing.comparable_runs(runs, v.version)) >= 2]
    if not usable:
        st.caption("Two finished runs on the same version of this dataset can be compared here, with no image "
                   "classified again.")
        return
    version = st.selectbox("On version", usable, key=f"{key_prefix}_compare_version")
    candidates = {s.run.id: s for s in listing.comparable_runs(runs, version)}
    ids = list(candidates)
    left, right = st.columns(2)
    baseline = left.selectbox("Baseline (A)", ids, index=min(1, len(ids) - 1), key=f"{key_prefix}_compare_a",
                              format_func=lambda run_id: _run_text(candidates[run_id]))
    other = right.selectbox("Candidate (B)", [run_id for run_id in ids if run_id != baseline],
                            key=f"{key_prefix}_compare_b", format_func=lambda run_id: _run_text(candidates[run_id]))
    if st.button("Compare these runs", key=f"{key_prefix}_compare", icon=":material/compare:"):
        try:
            comparison = _comparison_of(store, baseline, other)
        except StoreError as exc:
            _error("The comparison could not be stored", exc)
            return
        st.switch_page(COMPARE_PAGE, query_params={"comparison": comparison})


def _comparison_of(store: Store, baseline: str, other: str) -> str:
    """The stored comparison of exactly these two runs (A first), made when there is none."""
    for comparison in store.comparisons_of_run(baseline):
        if comparison.baseline_run_id == baseline and comparison.other_run_ids == (other,):
            return comparison.id
    return store.save_comparison(baseline, [other], session_id=state.session_id()).id


def export_file_name(name: str, version: int, fmt: str) -> str:
    """"dataset-march-audit-v3.csv": the name's letters, digits, dots and dashes only (never a path)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:60] or "dataset"
    return f"dataset-{safe}-v{version}.{fmt}"


def _export(data: Datasets, versions: Sequence[DatasetVersion], key_prefix: str) -> None:
    st.markdown("**Export**")
    formats = ["csv", "jsonl", *(["parquet"] if importlib.util.find_spec("pyarrow") is not None else [])]
    left, right = st.columns([1, 2])
    number = left.selectbox("Version", [v.version for v in reversed(list(versions))], key=f"{key_prefix}_export_version")
    fmt = right.radio("Format", formats, horizontal=True, key=f"{key_prefix}_export_format", format_func=str.upper)
    version = next(v for v in versions if v.version == number)
    st.download_button(f"Download version {number} as {fmt.upper()}", lambda: data.export(version, fmt),
                       file_name=export_file_name(version.name, number, fmt), mime=_MIME[fmt],
                       key=f"{key_prefix}_download", icon=":material/download:", on_click="ignore",
                       help="One row per image: dataset, version, position, source, truth, sha256, size_bytes, "
                            "corrected_by_run (the CSV is itself a truth file)")


def _delete(data: Datasets, summary: DatasetSummary, versions: int, key_prefix: str) -> None:
    st.markdown("**Delete**")
    confirm = f"{key_prefix}_confirm_delete"
    if not access.actor().may_delete_dataset(summary):
        st.session_state.pop(confirm, None)
        st.caption(WHO_MAY_DELETE_DATASET)
        return
    if st.session_state.get(confirm) != summary.dataset_id:
        st.button("Delete this dataset…", key=f"{key_prefix}_delete",
                  on_click=lambda: st.session_state.update({confirm: summary.dataset_id}))
        return
    st.warning(escape_markdown(
        f"Delete dataset '{summary.name}' with its {versions} version(s)? The {summary.runs} run(s) made on it stay "
        "(they say the dataset is gone); its images that no other dataset or run uses are deleted from the image "
        "store. This cannot be undone."), icon=":material/warning:")
    yes, no = st.columns(2)
    yes.button("Yes, delete it", key=f"{key_prefix}_delete_yes", type="primary",
               on_click=_delete_now, args=(data, summary, key_prefix))
    no.button("Keep it", key=f"{key_prefix}_delete_no", on_click=lambda: st.session_state.pop(confirm, None))


def _delete_now(data: Datasets, summary: DatasetSummary, key_prefix: str) -> None:
    """The confirmed deletion, checked again against the dataset as stored and the visitor as they are now (a
    button drawn for an operator who has since cleared the token deletes nothing)."""
    st.session_state.pop(f"{key_prefix}_confirm_delete", None)
    try:
        current = data.find(summary.dataset_id)
        if current is None:
            st.session_state[f"{key_prefix}_message"] = f"Dataset '{summary.name}' was already deleted."
            return
        if not access.actor().may_delete_dataset(current):
            st.session_state[f"{key_prefix}_message"] = (f"Dataset '{summary.name}' was not deleted. "
                                                         f"{WHO_MAY_DELETE_DATASET}")
            return
        deleted = data.delete(summary.name, dataset_id=summary.dataset_id)
    except StoreError as exc:
        st.session_state[f"{key_prefix}_message"] = f"The dataset was not deleted: {exc}"
        return
    st.session_state.pop(f"{key_prefix}_chosen", None)
    st.session_state[f"{key_prefix}_message"] = (
        f"Deleted dataset '{deleted.name}' ({deleted.versions} version(s)); {deleted.images_deleted:,} image(s) no "
        "other dataset or run uses were deleted from the image store.")
