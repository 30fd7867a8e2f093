"""Altair charts for the pages. Each function takes plain data and returns a chart; nothing here renders."""
from __future__ import annotations

from typing import Mapping, Sequence

import altair as alt
import pandas as pd

ERROR_COLOUR = "#9e9e9e"
ERROR = "error"
# Streamlit's default categorical colours, pinned so a class keeps its colour on every chart and page
# (left to Vega, colours follow each chart's own domain and "error" would take a class colour).
CLASS_PALETTE = ("#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a",
                 "#6d3fc0", "#d5dae5")


def class_colours(class_names: Sequence[str], with_error: bool = True) -> alt.Scale:
    """Colour scale: the model's classes in order, then (for charts that count failures) "error" in grey."""
    names = [name for name in class_names if name != ERROR]
    palette = [CLASS_PALETTE[i % len(CLASS_PALETTE)] for i in range(len(names))]
    if not with_error:
        return alt.Scale(domain=names, range=palette)
    return alt.Scale(domain=[*names, ERROR], range=[*palette, ERROR_COLOUR])


def probability_chart(probabilities: Mapping[str, float], title: str = "Class probabilities") -> alt.Chart:
    """Horizontal bars, one per class, in the model's class order, 0..1 with the value printed."""
    data = pd.DataFrame({"class": list(probabilities), "probability": [float(p) for p in probabilities.values()]})
    order = list(probabilities)
    base = alt.Chart(data, title=title).encode(
        y=alt.Y("class:N", sort=order, title=None),
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), title="probability"),
        tooltip=["class", alt.Tooltip("probability:Q", format=".3f")],
    )
    bars = base.mark_bar().encode(color=alt.Color("class:N", scale=class_colours(order, with_error=False), legend=None))
    labels = base.mark_text(align="left", dx=3).encode(text=alt.Text("probability:Q", format=".1%"))
    # A step height: Streamlit squashes layered charts given a fixed pixel height for a nominal axis.
    return (bars + labels).properties(height=alt.Step(30))


def top5_chart(top5: Sequence[tuple[str, float]], title: str = "ImageNet top-5 the backbone saw") -> alt.Chart:
    data = pd.DataFrame(top5, columns=["imagenet_label", "score"])
    return alt.Chart(data, title=title).mark_bar(color="#6c8ebf").encode(
        y=alt.Y("imagenet_label:N", sort="-x", title=None),
        x=alt.X("score:Q", title="score"),
        tooltip=["imagenet_label", alt.Tooltip("score:Q", format=".3f")],
    ).properties(height=alt.Step(26))


def class_counts_chart(counts: Mapping[str, int], title: str = "Top class per image") -> alt.Chart:
    """Bar per class (errors in grey) with the count printed."""
    data = pd.DataFrame({"class": list(counts), "images": list(counts.values())})
    order = list(counts)
    colour = alt.Color("class:N", scale=class_colours(order), legend=None)
    base = alt.Chart(data, title=title).encode(
        x=alt.X("class:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("images:Q", title="images", axis=alt.Axis(tickMinStep=1)),
        tooltip=["class", "images"],
    )
    return (base.mark_bar().encode(color=colour) + base.mark_text(dy=-6).encode(text="images:Q")).properties(
        height=220)


def agreement_scatter(probabilities: pd.DataFrame, name_a: str, name_b: str,
                      class_names: Sequence[str] | None = None) -> alt.Chart:
    """Each image × class as a point at (P under A, P under B); points off the diagonal are disagreements."""
    diagonal = alt.Chart(pd.DataFrame({"p": [0.0, 1.0]})).mark_line(color="#bbbbbb", strokeDash=[4, 4]).encode(
        x="p:Q", y="p:Q")
    points = alt.Chart(probabilities).mark_circle(size=60, opacity=0.75).encode(
        x=alt.X("probability_a:Q", scale=alt.Scale(domain=[0, 1]), title=f"probability, A ({name_a})"),
        y=alt.Y("probability_b:Q", scale=alt.Scale(domain=[0, 1]), title=f"probability, B ({name_b})"),
        color=alt.Color("class:N", title="class",
                        scale=class_colours(class_names or list(dict.fromkeys(probabilities["class"])),
                                            with_error=False)),
        tooltip=["source", "class", alt.Tooltip("probability_a:Q", format=".3f"),
                 alt.Tooltip("probability_b:Q", format=".3f")],
    )
    return (diagonal + points).properties(title="Same images, both versions", height=320)


def latency_chart(latency: pd.DataFrame) -> alt.Chart:
    """Grouped bars per target: median request latency and wall time per image (ms)."""
    base = alt.Chart(latency, title="Latency per version").encode(
        y=alt.Y("target:N", title=None),
        yOffset=alt.YOffset("measure:N"),
        x=alt.X("ms:Q", title="milliseconds"),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["target", "measure", alt.Tooltip("ms:Q", format=".1f")],
    )
    labels = base.mark_text(align="left", dx=3).encode(text=alt.Text("ms:Q", format=".0f"))
    return (base.mark_bar() + labels).properties(height=alt.Step(24))


def history_chart(counts: pd.DataFrame, class_names: Sequence[str] = ()) -> alt.Chart:
    """Stacked top-class counts per run, classes in model order and errors last, coloured as everywhere else."""
    names = list(class_names) or [c for c in dict.fromkeys(counts["class"]) if c != ERROR]
    stack_order = {name: i for i, name in enumerate([*names, ERROR])}
    counts = counts.assign(stack=counts["class"].map(stack_order))
    return alt.Chart(counts, title="Top classes per run").mark_bar().encode(
        x=alt.X("count:Q", title="images", stack="zero"),
        y=alt.Y("run:N", sort=None, title=None),
        color=alt.Color("class:N", title="class", scale=class_colours(names), sort=[*names, ERROR]),
        order=alt.Order("stack:Q"),
        tooltip=["run", "class", "count"],
    ).properties(height=alt.Step(28))
