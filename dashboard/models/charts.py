"""Altair charts of what the server did: one timeline row per version (a bar per state stretch, coloured and
named by state) and the label history as a step chart over versions as categories. Inputs are
dashboard.server.watch's frames; no streamlit here."""
from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["STATE_COLORS", "version_timeline_chart", "label_history_chart"]

# TF Serving's lifecycle, in order; END is grey (gone), errors show in the tooltip.
STATE_COLORS = {"START": "#bdbdbd", "LOADING": "#f2b134", "AVAILABLE": "#2e9e5b", "UNLOADING": "#d9822b",
                "END": "#7f7f7f", "UNKNOWN": "#b0417a"}


def version_timeline_chart(timeline: pd.DataFrame) -> alt.LayerChart:
    """timeline: server_watch.version_timeline's frame (version, state, start, end, error). One row per version
    (versions as text categories), a bar per state stretch coloured by state with a legend, the state's name
    written on its bar, and a time axis."""
    data = timeline.assign(version=timeline["version"].astype("string"),
                           error=timeline["error"].fillna(""))
    known = [state for state in STATE_COLORS if state in set(data["state"])]
    others = sorted(set(data["state"].dropna()) - set(STATE_COLORS))
    domain = known + others
    palette = [STATE_COLORS.get(state, "#4c78a8") for state in domain]
    base = alt.Chart(data).encode(
        x=alt.X("start:T", title="time (UTC)", axis=alt.Axis(format="%H:%M", labelOverlap=True)),
        y=alt.Y("version:N", title="version", sort="descending"),
        tooltip=[alt.Tooltip("version:N"), alt.Tooltip("state:N"),
                 alt.Tooltip("start:T", format="%Y-%m-%d %H:%M:%S"),
                 alt.Tooltip("end:T", format="%Y-%m-%d %H:%M:%S"), alt.Tooltip("error:N")])
    bars = base.mark_bar(height=22, stroke="white", strokeWidth=1).encode(
        x2="end:T",
        color=alt.Color("state:N", scale=alt.Scale(domain=domain, range=palette), title="state",
                        legend=alt.Legend(orient="top")))
    names = base.mark_text(align="left", dx=4, color="white", fontWeight="bold").encode(text="state:N")
    return alt.layer(bars, names).properties(title="Version states over time", height=alt.Step(32))


def label_steps(history: pd.DataFrame) -> pd.DataFrame:
    """label, time, version: each stretch's start, plus the last stretch's end so the final step is drawn."""
    points = history[["label", "start", "version"]].rename(columns={"start": "time"})
    last = history.sort_values("start").groupby("label", as_index=False).last()[["label", "end", "version"]]
    points = pd.concat([points, last.rename(columns={"end": "time"})], ignore_index=True)
    return points.sort_values(["label", "time"], kind="stable").reset_index(drop=True)


def label_history_chart(history: pd.DataFrame) -> alt.Chart:
    """history: server_watch.label_history's frame (label, version, start, end); versions are text categories
    (newest on top; exact int64 digits), a label naming no version leaves a gap."""
    data = label_steps(history)
    order = [str(v) for v in sorted({int(v) for v in data["version"].dropna()}, reverse=True)]
    data["version"] = data["version"].astype("Int64").astype("string")
    return alt.Chart(data).mark_line(interpolate="step-after", point=True).encode(
        x=alt.X("time:T", title="time (UTC)", axis=alt.Axis(format="%H:%M", labelOverlap=True)),
        y=alt.Y("version:N", title="version", sort=order),
        color=alt.Color("label:N", title="label", legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("label:N"), alt.Tooltip("version:N", title="version"),
                 alt.Tooltip("time:T", format="%Y-%m-%d %H:%M:%S")],
    ).properties(title="Which version each label named")
