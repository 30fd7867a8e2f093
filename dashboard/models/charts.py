"""Altair charts of what the server did: one timeline row per version (a bar per state stretch) and the label
history as a step chart. Inputs are dashboard.server.watch's frames; no streamlit here."""
from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["STATE_COLORS", "version_timeline_chart", "label_history_chart"]

# TF Serving's lifecycle, in order; END is grey (gone), errors show in the tooltip.
STATE_COLORS = {"START": "#bdbdbd", "LOADING": "#f2b134", "AVAILABLE": "#2e9e5b", "UNLOADING": "#d9822b",
                "END": "#7f7f7f", "UNKNOWN": "#b0417a"}


def version_timeline_chart(timeline: pd.DataFrame) -> alt.Chart:
    """timeline: server_watch.version_timeline's frame (version, state, start, end, error)."""
    data = timeline.assign(version=timeline["version"].astype("string"),
                           error=timeline["error"].fillna(""))
    known = [state for state in STATE_COLORS if state in set(data["state"])]
    others = sorted(set(data["state"].dropna()) - set(STATE_COLORS))
    domain = known + others
    palette = [STATE_COLORS.get(state, "#4c78a8") for state in domain]
    return alt.Chart(data).mark_bar(height=16).encode(
        x=alt.X("start:T", title="time (UTC)"),
        x2="end:T",
        y=alt.Y("version:N", title="version", sort="descending"),
        color=alt.Color("state:N", scale=alt.Scale(domain=domain, range=palette), title="state"),
        tooltip=[alt.Tooltip("version:N"), alt.Tooltip("state:N"),
                 alt.Tooltip("start:T", format="%Y-%m-%d %H:%M:%S"),
                 alt.Tooltip("end:T", format="%Y-%m-%d %H:%M:%S"), alt.Tooltip("error:N")],
    ).properties(title="Version states over time", height=alt.Step(28))


def label_steps(history: pd.DataFrame) -> pd.DataFrame:
    """label, time, version: each stretch's start, plus the last stretch's end so the final step is drawn."""
    points = history[["label", "start", "version"]].rename(columns={"start": "time"})
    last = history.sort_values("start").groupby("label", as_index=False).last()[["label", "end", "version"]]
    points = pd.concat([points, last.rename(columns={"end": "time"})], ignore_index=True)
    return points.sort_values(["label", "time"], kind="stable").reset_index(drop=True)


def label_history_chart(history: pd.DataFrame) -> alt.Chart:
    """history: server_watch.label_history's frame (label, version, start, end); a label naming no version
    leaves a gap."""
    data = label_steps(history)
    # The tooltip reads the exact number as text; the line's height is a float (int64 near 2**63 rounds there).
    data["version_text"] = data["version"].astype("string").fillna("none")
    data["version"] = data["version"].astype("Float64")
    return alt.Chart(data).mark_line(interpolate="step-after", point=True).encode(
        x=alt.X("time:T", title="time (UTC)"),
        y=alt.Y("version:Q", title="version", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("label:N", title="label"),
        tooltip=[alt.Tooltip("label:N"), alt.Tooltip("version_text:N", title="version"),
                 alt.Tooltip("time:T", format="%Y-%m-%d %H:%M:%S")],
    ).properties(title="Which version each label named")
