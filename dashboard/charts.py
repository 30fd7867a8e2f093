"""Altair charts for the pages. Each function takes plain data and returns a chart; nothing here renders."""
from __future__ import annotations

from typing import Mapping, Sequence

import altair as alt
import pandas as pd

# Streamlit's default categorical colours, pinned so a class keeps its colour on every chart and page
# (left to Vega, colours follow each chart's own domain).
CLASS_PALETTE = ("#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a",
                 "#6d3fc0", "#d5dae5")


def class_colours(class_names: Sequence[str]) -> alt.Scale:
    """Colour scale: the model's classes in order, each with its pinned colour."""
    return alt.Scale(domain=list(class_names),
                     range=[CLASS_PALETTE[i % len(CLASS_PALETTE)] for i in range(len(class_names))])


TOP5_FLOOR = 1e-4    # the top-5 chart's log scale starts here; a smaller score shows as no bar, its value printed


def probability_chart(probabilities: Mapping[str, float], title: str = "Class probabilities") -> alt.Chart:
    """Horizontal bars, one per class, in the model's class order, 0..1 with the value printed."""
    data = pd.DataFrame({"class": list(probabilities), "probability": [float(p) for p in probabilities.values()]})
    order = list(probabilities)
    base = alt.Chart(data, title=title).encode(
        y=alt.Y("class:N", sort=order, title=None),
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), title="probability"),
        tooltip=["class", alt.Tooltip("probability:Q", format=".3f")],
    )
    bars = base.mark_bar().encode(color=alt.Color("class:N", scale=class_colours(order), legend=None))
    labels = base.mark_text(align="left", dx=3).encode(text=alt.Text("probability:Q", format=".1%"))
    # A step height: Streamlit squashes layered charts given a fixed pixel height for a nominal axis.
    return (bars + labels).properties(height=alt.Step(30))


def top5_chart(top5: Sequence[tuple[str, float]], title: str = "ImageNet top-5 the backbone saw") -> alt.Chart:
    """The backbone's five best ImageNet labels: bars on a log scale (from TOP5_FLOOR) so that the 2nd to 5th, often
    a hundred times smaller than the 1st, still show, each with its score printed; labels are never cut."""
    data = pd.DataFrame(top5, columns=["imagenet_label", "score"])
    base = alt.Chart(data, title=title).encode(
        y=alt.Y("imagenet_label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
        x=alt.X("score:Q", title="score (log scale)",
                scale=alt.Scale(type="log", domain=[TOP5_FLOOR, 1], clamp=True)),
        tooltip=["imagenet_label", alt.Tooltip("score:Q", format=".3f")],
    )
    bars = base.mark_bar(color="#6c8ebf")
    labels = base.mark_text(align="left", dx=3).encode(text=alt.Text("score:Q", format=".1%"))
    return (bars + labels).properties(height=alt.Step(26))


def agreement_scatter(probabilities: pd.DataFrame, name_a: str, name_b: str,
                      class_names: Sequence[str] | None = None) -> alt.Chart:
    """Each image × class as a point at (P under A, P under B); points off the diagonal are disagreements."""
    diagonal = alt.Chart(pd.DataFrame({"p": [0.0, 1.0]})).mark_line(color="#bbbbbb", strokeDash=[4, 4]).encode(
        x="p:Q", y="p:Q")
    points = alt.Chart(probabilities).mark_circle(size=60, opacity=0.75).encode(
        x=alt.X("probability_a:Q", scale=alt.Scale(domain=[0, 1]), title=f"probability, A ({name_a})"),
        y=alt.Y("probability_b:Q", scale=alt.Scale(domain=[0, 1]), title=f"probability, B ({name_b})"),
        color=alt.Color("class:N", title="class",
                        scale=class_colours(class_names or list(dict.fromkeys(probabilities["class"])))),
        tooltip=["source", "class", alt.Tooltip("probability_a:Q", format=".3f"),
                 alt.Tooltip("probability_b:Q", format=".3f")],
    )
    return (diagonal + points).properties(title="Same images, both versions", height=320)
