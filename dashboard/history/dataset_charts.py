"""Altair charts of the runs on one image set (a dataset version), per model version: accuracy with its 95%
interval, and the median latency of the runs measured alone. Input: dashboard.history.datasets.dataset_trend_frame;
no streamlit here (the class mix is dashboard.history.charts.class_mix_chart)."""
from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["dataset_accuracy_chart", "dataset_latency_chart"]

_TIME = alt.X("time:T", title="run started (UTC)")
_TOOLTIP = [alt.Tooltip("run:N"), alt.Tooltip("time:T", format="%Y-%m-%d %H:%M:%S"),
            alt.Tooltip("version:N", title="model version"), alt.Tooltip("kind:N")]


def _by_version(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(version=frame["version"].astype("string"))


def dataset_accuracy_chart(trend: pd.DataFrame, title: str) -> alt.LayerChart:
    """A point per run, its Wilson 95% interval as a bar, one colour per model version."""
    data = _by_version(trend.dropna(subset=["accuracy"]))
    base = alt.Chart(data).encode(x=_TIME, color=alt.Color("version:N", title="model version"))
    bars = base.mark_rule(strokeWidth=2).encode(
        y=alt.Y("low:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")), y2="high:Q")
    points = base.mark_point(filled=True, size=60).encode(
        y="accuracy:Q",
        tooltip=[*_TOOLTIP, alt.Tooltip("accuracy:Q", format=".1%"), alt.Tooltip("low:Q", format=".1%", title="95% low"),
                 alt.Tooltip("high:Q", format=".1%", title="95% high"), alt.Tooltip("correct:Q"),
                 alt.Tooltip("judged:Q", title="with truth")])
    return alt.layer(bars, points).properties(title=f"Accuracy per model version on {title} (95% interval)")


def dataset_latency_chart(trend: pd.DataFrame, title: str) -> alt.Chart:
    data = _by_version(trend.dropna(subset=["latency_p50_ms"]))
    return alt.Chart(data).mark_line(point=True).encode(
        x=_TIME, y=alt.Y("latency_p50_ms:Q", title="median latency (ms)"),
        color=alt.Color("version:N", title="model version"),
        tooltip=[*_TOOLTIP, alt.Tooltip("latency_p50_ms:Q", format=".1f", title="p50 ms"), alt.Tooltip("images:Q")],
    ).properties(title=f"Median latency per model version on {title} (runs measured alone)")
