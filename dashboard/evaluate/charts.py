"""Altair charts for evaluation: each takes a frame from dashboard.evaluate.metrics and returns a chart; nothing renders.

Vega draws every text field as text (no Markdown/HTML), so class names and file names from the data are safe here.
"""
from __future__ import annotations

from typing import Sequence

import altair as alt
import pandas as pd

from dashboard.evaluate.metrics import NO_TRUTH, RIGHT, WRONG

# The selection parameter on the heatmap: st.altair_chart(..., on_select="rerun") returns
# event.selection[CELL_SELECTION] as a list of {"true": ..., "predicted": ...}.
CELL_SELECTION = "cell"
OUTCOME_SCALE = alt.Scale(domain=[RIGHT, WRONG, NO_TRUTH], range=["#29b09d", "#ff2b2b", "#9e9e9e"])
_UNIT = alt.Scale(domain=[0, 1])
_TENTHS = alt.Axis(values=[i / 10 for i in range(11)], format=".1f")


def confusion_heatmap(cells: pd.DataFrame, class_names: Sequence[str]) -> alt.LayerChart:
    """True class on rows, predicted on columns; colour = share of the true class; each cell prints its count and
    row percentage. Clicking a cell selects it (CELL_SELECTION); the unselected cells fade."""
    names = list(class_names)
    select = alt.selection_point(name=CELL_SELECTION, fields=["true", "predicted"], on="click", toggle=False)
    base = alt.Chart(cells).encode(
        x=alt.X("predicted:N", sort=names, title="predicted class", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:N", sort=names, title="true class"),
    )
    rect = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("row_share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="share of row",
                        legend=alt.Legend(format="%", gradientLength=140)),
        opacity=alt.condition(select, alt.value(1.0), alt.value(0.35)),
        tooltip=[alt.Tooltip("true:N", title="true"), alt.Tooltip("predicted:N", title="predicted"),
                 alt.Tooltip("count:Q", title="images"), alt.Tooltip("row_share:Q", title="share of row", format=".1%")],
    ).add_params(select)
    ink = alt.condition(alt.datum.row_share > 0.55, alt.value("white"), alt.value("#262730"))
    counts = base.mark_text(baseline="bottom", fontSize=16, fontWeight="bold").encode(text="count_text:N", color=ink)
    shares = base.mark_text(baseline="top", dy=4, fontSize=11).encode(text="share_text:N", color=ink)
    return (rect + counts + shares).properties(title="Confusion matrix (true class on rows)", height=alt.Step(64),
                                               width=alt.Step(90))


def reliability_diagram(bins: pd.DataFrame) -> alt.LayerChart:
    """Accuracy per confidence bin as bars spanning the bin, the mean confidence as a tick, images per bin printed
    above; the diagonal is perfect calibration (bars below it: over-confident)."""
    filled = bins[bins["count"] > 0].assign(count_text=lambda b: b["count"].astype(str),
                                            middle=lambda b: (b["lower"] + b["upper"]) / 2)
    diagonal = alt.Chart(pd.DataFrame({"p": [0.0, 1.0]})).mark_line(color="#bbbbbb", strokeDash=[4, 4]).encode(
        x=alt.X("p:Q", scale=_UNIT), y=alt.Y("p:Q", scale=_UNIT))
    base = alt.Chart(filled).encode(
        x=alt.X("lower:Q", scale=_UNIT, title="top-class confidence", axis=_TENTHS), x2="upper:Q",
        tooltip=[alt.Tooltip("lower:Q", title="from", format=".1f"), alt.Tooltip("upper:Q", title="to", format=".1f"),
                 alt.Tooltip("count:Q", title="images"), alt.Tooltip("confidence:Q", title="mean confidence",
                                                                      format=".3f"),
                 alt.Tooltip("accuracy:Q", title="accuracy", format=".1%")])
    bars = base.mark_bar(color="#0068c9", opacity=0.75, stroke="white").encode(
        y=alt.Y("accuracy:Q", scale=_UNIT, title="accuracy", axis=alt.Axis(format="%")), y2=alt.datum(0))
    counts = alt.Chart(filled).mark_text(baseline="bottom", dy=-3).encode(
        x="middle:Q", y="accuracy:Q", text="count_text:N")
    ticks = alt.Chart(filled).mark_tick(color="#ff8700", thickness=2, size=14).encode(
        x="confidence:Q", y="accuracy:Q")
    return (diagonal + bars + ticks + counts).properties(title="Reliability (images per bin above each bar)",
                                                         height=300)


def confidence_histogram_chart(histogram: pd.DataFrame) -> alt.Chart:
    """Stacked bars of images per confidence bin, right / wrong / no ground truth."""
    order = {RIGHT: 0, WRONG: 1, NO_TRUTH: 2}
    data = histogram.assign(stack=histogram["outcome"].map(order))
    return alt.Chart(data, title="Top-class confidence").mark_bar(stroke="white").encode(
        # bin="binned": the bins are made in dashboard.evaluate.metrics; Vega-Lite draws and stacks them as a histogram.
        x=alt.X("lower:Q", bin="binned", scale=_UNIT, title="top-class confidence", axis=_TENTHS), x2="upper:Q",
        y=alt.Y("count:Q", stack="zero", title="images", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("outcome:N", scale=OUTCOME_SCALE, title=None),   # a bottom legend squashes the plot
        order=alt.Order("stack:Q"),
        tooltip=["outcome:N", "count:Q", alt.Tooltip("lower:Q", title="from", format=".1f"),
                 alt.Tooltip("upper:Q", title="to", format=".1f")],
    ).properties(height=260)


def accuracy_coverage_chart(curve: pd.DataFrame, threshold: float) -> alt.LayerChart:
    """Accuracy on the images kept and the share kept, against the threshold below which a person reviews; the
    chosen threshold is a vertical rule."""
    long = curve.melt(id_vars=["threshold"], value_vars=["accuracy", "coverage"], var_name="measure",
                      value_name="value").dropna(subset=["value"])
    lines = alt.Chart(long).mark_line(interpolate="step-after").encode(
        x=alt.X("threshold:Q", scale=_UNIT, title="confidence threshold (below it: review)", axis=_TENTHS),
        y=alt.Y("value:Q", scale=_UNIT, title=None, axis=alt.Axis(format="%")),
        color=alt.Color("measure:N", title=None,
                        scale=alt.Scale(domain=["accuracy", "coverage"], range=["#0068c9", "#ff8700"])),
        tooltip=[alt.Tooltip("threshold:Q", format=".2f"), "measure:N", alt.Tooltip("value:Q", format=".1%")],
    )
    rule = alt.Chart(pd.DataFrame({"threshold": [float(threshold)]})).mark_rule(
        color="#262730", strokeDash=[6, 3]).encode(x="threshold:Q")
    return (lines + rule).properties(title="Accuracy and coverage by threshold", height=260)
