"""Altair charts of stored runs over time, per version: accuracy where truth is known, median latency, and the
class mix. Inputs are dashboard.history.summaries's trend and class-mix frames; no streamlit here."""
from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["accuracy_trend_chart", "latency_trend_chart", "class_mix_chart"]

_TIME = alt.X("time:T", title="run started (UTC)")
_RUN_TOOLTIP = [alt.Tooltip("run:N"), alt.Tooltip("time:T", format="%Y-%m-%d %H:%M:%S"), alt.Tooltip("version:N")]


def _by_version(frame: pd.DataFrame) -> pd.DataFrame:
    # Versions as text: a nominal colour per version, never a gradient between version numbers.
    return frame.assign(version=frame["version"].astype("string"))


def accuracy_trend_chart(trends: pd.DataFrame) -> alt.Chart:
    """One line per version over the runs that knew their truth."""
    data = _by_version(trends.dropna(subset=["accuracy"]))
    return alt.Chart(data).mark_line(point=True).encode(
        x=_TIME,
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("version:N", title="version"),
        tooltip=[*_RUN_TOOLTIP, alt.Tooltip("accuracy:Q", format=".1%"), alt.Tooltip("images:Q")],
    ).properties(title="Accuracy per version (runs with known truth)")


def latency_trend_chart(trends: pd.DataFrame) -> alt.Chart:
    data = _by_version(trends.dropna(subset=["latency_p50_ms"]))
    return alt.Chart(data).mark_line(point=True).encode(
        x=_TIME,
        y=alt.Y("latency_p50_ms:Q", title="median latency (ms)"),
        color=alt.Color("version:N", title="version"),
        tooltip=[*_RUN_TOOLTIP, alt.Tooltip("latency_p50_ms:Q", format=".1f", title="p50 ms"),
                 alt.Tooltip("images:Q")],
    ).properties(title="Median latency per version")


def class_mix_chart(mix: pd.DataFrame) -> alt.Chart:
    """A stacked bar per run (in time order), one panel per version."""
    data = _by_version(mix)
    data["started"] = data["time"].dt.strftime("%Y-%m-%d %H:%M") + " · " + data["run"]
    order = list(dict.fromkeys(data.sort_values("time")["started"]))
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("started:N", title="run", sort=order),
        y=alt.Y("share:Q", title="share of classified images", stack="normalize", axis=alt.Axis(format="%")),
        color=alt.Color("class:N", title="predicted class"),
        column=alt.Column("version:N", title="version"),
        tooltip=[*_RUN_TOOLTIP, alt.Tooltip("class:N"), alt.Tooltip("share:Q", format=".1%")],
    ).resolve_scale(x="independent").properties(title="Class mix per version", width=alt.Step(24))
