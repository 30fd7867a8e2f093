"""Altair charts of a decision (dashboard.compare.decision). Plain data in, a chart out; nothing here renders."""
from __future__ import annotations

import math
from typing import Mapping

import altair as alt
import pandas as pd

# The flip-matrix selection's name: st.altair_chart(..., on_select="rerun") reports cells under it.
FLIP_SELECTION = "flip_cell"


# Text on the flip matrix: white on cells at least this dark (share of the largest count on the "blues" scale).
DARK_FROM = 0.5
WHITE, BLACK, FLIP_RED = "#ffffff", "#222222", "#c62828"


def largest_count(counts: pd.Series) -> int:
    return max(int(counts.max()) if len(counts) else 0, 1)


def text_ink(counts: pd.Series, flips: pd.Series) -> list[str]:
    """The text colour per cell of a "blues" heatmap of `counts` (scale 0 to largest_count): white on the dark
    half; on the light half red for a flip that holds images, black otherwise."""
    largest = largest_count(counts)
    return [WHITE if count / largest >= DARK_FROM else FLIP_RED if flip and count > 0 else BLACK
            for count, flip in zip(counts, flips)]


def flip_matrix_chart(cells: pd.DataFrame, name_a: str, name_b: str) -> alt.LayerChart:
    """A's top class (rows) × B's top class (columns) with counts; cells are selectable (point selection on
    a_class, b_class). `cells`: dashboard.compare.tables.flip_cells."""
    order = list(dict.fromkeys([*cells["a_class"], *cells["b_class"]]))
    cells = cells.assign(ink=text_ink(cells["count"], cells["flip"]))
    selection = alt.selection_point(name=FLIP_SELECTION, fields=["a_class", "b_class"], on="click")
    base = alt.Chart(cells).encode(
        x=alt.X("b_class:N", sort=order, title=f"B: {name_b}", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("a_class:N", sort=order, title=f"A: {name_a}"),
        tooltip=[alt.Tooltip("a_class:N", title="A says"), alt.Tooltip("b_class:N", title="B says"),
                 alt.Tooltip("count:Q", title="images")],
    )
    heat = base.mark_rect(stroke="#ffffff").encode(
        color=alt.Color("count:Q", title="images",
                        scale=alt.Scale(scheme="blues", domain=[0, largest_count(cells["count"])])),
        opacity=alt.condition(selection, alt.value(1.0), alt.value(0.45)),
    ).add_params(selection)
    text = base.mark_text(fontSize=14).encode(text="count:Q", color=alt.Color("ink:N", scale=None, legend=None))
    # The text's colours are its own (scale None), not a second use of the heatmap's "images" scale.
    return (heat + text).resolve_scale(color="independent").properties(
        title="Flip matrix: top class under A and under B", height=alt.Step(48), width=alt.Step(64))


DIFFERENCE_TITLE = "Confusion difference (B − A)"
DIFFERENCE_HINT = ("Better: counts up on the diagonal,", "down off it.")
DIFFERENCE_MIN_WIDTH = 260   # px: the title's and the hint's longest line at Vega's default title fonts


def confusion_difference_chart(cells: pd.DataFrame) -> alt.LayerChart:
    """B's confusion counts minus A's, true class on rows; diverging colours around 0.
    `cells`: dashboard.compare.tables.confusion_difference_cells."""
    order = list(dict.fromkeys(cells["true"]))
    largest = max(1, int(cells["change"].abs().max())) if len(cells) else 1
    base = alt.Chart(cells).encode(
        x=alt.X("predicted:N", sort=order, title="predicted", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("true:N", sort=order, title="true class"),
        tooltip=["true", "predicted", alt.Tooltip("change:Q", title="B − A")],
    )
    heat = base.mark_rect(stroke="#ffffff").encode(color=alt.Color(
        "change:Q", title="B − A", scale=alt.Scale(scheme="redblue", domain=[-largest, largest], domainMid=0)))
    text = base.mark_text(fontSize=14).encode(text=alt.Text("change:Q", format="+d"))
    # The reading hint as a subtitle of short lines, and a width that holds them: a title wider than the chart is
    # cut off by Vega.
    return (heat + text).properties(
        title=alt.TitleParams(DIFFERENCE_TITLE, subtitle=list(DIFFERENCE_HINT), anchor="start"),
        height=alt.Step(48), width=max(64 * len(order), DIFFERENCE_MIN_WIDTH))


def shift_histogram_chart(histogram: pd.DataFrame, basis: str = "the true class (or A's top class)") -> alt.Chart:
    """Bars of images per shift bin (B − A probability). `histogram`: decision_tables.shift_histogram."""
    return alt.Chart(histogram, title=f"Shift in the probability of {basis}, B − A").mark_bar().encode(
        x=alt.X("lower:Q", bin="binned", title="B − A probability", scale=alt.Scale(domain=[-1, 1])),
        x2="upper:Q",
        y=alt.Y("images:Q", title="images", axis=alt.Axis(tickMinStep=1)),
        color=alt.condition("datum.upper <= 0", alt.value("#e45756"), alt.value("#4c78a8")),
        tooltip=[alt.Tooltip("lower:Q", format="+.2f"), alt.Tooltip("upper:Q", format="+.2f"), "images:Q"],
    ).properties(height=220)


def _score_text(scores: Mapping[str, float]) -> str:
    def shown(value: float) -> str:
        return "—" if value is None or math.isnan(value) else f"{value:.3f}"
    return f"ECE {shown(scores.get('ece'))}, Brier {shown(scores.get('brier'))}"


def reliability_overlay(calibration: pd.DataFrame, scores: Mapping[str, Mapping[str, float]]) -> alt.LayerChart:
    """Both sides' reliability diagrams on one plot (mean confidence against accuracy per bin, point size =
    images), the diagonal for perfect calibration; ECE and Brier per side in the legend.
    `calibration`: bins in long form with `side`; `scores`: side -> {"ece", "brier"}."""
    data = calibration[calibration["count"] > 0].copy()
    data["legend"] = [f"{side} ({_score_text(scores.get(side, {}))})" for side in data["side"]]
    diagonal = alt.Chart(pd.DataFrame({"p": [0.0, 1.0]})).mark_line(color="#bbbbbb", strokeDash=[4, 4]).encode(
        x="p:Q", y="p:Q")
    encoding = {
        "x": alt.X("confidence:Q", scale=alt.Scale(domain=[0, 1]), title="mean top-class confidence"),
        "y": alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="accuracy"),
        "color": alt.Color("legend:N", title=None, legend=alt.Legend(orient="right", labelLimit=280)),
    }
    lines = alt.Chart(data).mark_line().encode(**encoding)
    points = alt.Chart(data).mark_circle(opacity=0.9).encode(
        **encoding, size=alt.Size("count:Q", title="images", legend=None),
        tooltip=["side", alt.Tooltip("lower:Q", format=".1f"), alt.Tooltip("upper:Q", format=".1f"), "count:Q",
                 alt.Tooltip("confidence:Q", format=".3f"), alt.Tooltip("accuracy:Q", format=".3f")])
    return (diagonal + lines + points).properties(title="Reliability, both versions", height=300)
