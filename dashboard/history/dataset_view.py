"""History's view of runs by dataset: which datasets still exist (the dataset column says "deleted" once one is
gone), and the trends of the runs on one chosen dataset version, the same images, per model version.
Streamlit-facing; the frames are dashboard.history.datasets's, the charts dashboard.history.dataset_charts's."""
from __future__ import annotations

import logging
from typing import Collection, Sequence

import streamlit as st

from client.store import Datasets, RunSummary, Store, StoreError, open_image_store
from dashboard.history import charts as history_charts
from dashboard.history import dataset_charts
from dashboard.history import datasets as by_dataset
from dashboard.history import summaries as run_history
from dashboard.plain import escape_markdown

__all__ = ["dataset_trends", "existing_datasets"]

LOG = logging.getLogger("servescope.dashboard")


def existing_datasets(store: Store, shown: Sequence[RunSummary]) -> set[str]:
    """The ids of the datasets the runs shown ran on that still exist (all of them when that cannot be read)."""
    ids = {s.run.dataset_id for s in shown if s.run.dataset_id is not None}
    if not ids:
        return set()
    try:
        data = Datasets(store, open_image_store(store, quota_bytes=None))
        return {dataset_id for dataset_id in ids if data.find(dataset_id) is not None}
    except StoreError as exc:
        LOG.error("the datasets of History's runs cannot be read: %s", exc)
        return ids


def dataset_trends(store: Store, shown: Sequence[RunSummary], existing: Collection[str], key_prefix: str, *,
                   limit: int) -> bool:
    """When runs shown ran on datasets: the analyst picks one dataset version (the one with the most runs first) and
    its newest `limit` runs are drawn per model version (accuracy with intervals, latency alone, class mix); True
    when drawn. False when there is no such run, or the analyst picked every run shown instead."""
    sets = by_dataset.image_sets(shown, existing)
    if not sets:
        return False
    chosen = st.selectbox("Images", [*sets, None], key=f"{key_prefix}_trend_images",
                          format_func=lambda key: sets[key] if key is not None else
                          "every run shown (their images may differ: not comparable)",
                          help="Runs on one dataset version classified the same images; runs on different images "
                               "cannot be set side by side")
    if chosen is None:
        return False
    _draw(store, by_dataset.runs_on(shown, chosen)[:limit], sets[chosen].rsplit(":", 1)[0], key_prefix)
    return True


def _draw(store: Store, runs: Sequence[RunSummary], title: str, key_prefix: str) -> None:
    try:
        rows = {s.run.id: store.run_rows(s.run.id) for s in runs}
    except StoreError as exc:
        st.error(escape_markdown(f"The rows for the trends cannot be read: {exc}"), icon=":material/error:")
        return
    trend = by_dataset.dataset_trend_frame(runs, rows)
    if trend.empty:
        st.info("No finished run with an answering version on these images among the runs shown.")
        return
    st.caption(f"{len(trend)} run(s) on the same images, oldest first. Latency only of classify runs: a "
               "comparison's sides ran at the same time, slowing each other.")
    if trend["accuracy"].notna().any():
        st.altair_chart(dataset_charts.dataset_accuracy_chart(trend, title), width="stretch")
    else:
        st.caption("These images have no ground truth, so there is no accuracy to chart.")
    if trend["latency_p50_ms"].notna().any():
        st.altair_chart(dataset_charts.dataset_latency_chart(trend, title), width="stretch")
    mix = run_history.class_mix_frame(runs, rows)
    if not mix.empty:
        st.altair_chart(history_charts.class_mix_chart(mix))
    st.dataframe(trend, hide_index=True, key=f"{key_prefix}_dataset_trend", column_config={
        "time": st.column_config.DatetimeColumn("time", format="YYYY-MM-DD HH:mm:ss"),
        "version": st.column_config.NumberColumn("model version"),
        "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
        "low": st.column_config.NumberColumn("95% low", format="percent"),
        "high": st.column_config.NumberColumn("95% high", format="percent"),
        "latency_p50_ms": st.column_config.NumberColumn("median latency (ms, alone)", format="%.1f")})
