"""A one-page comparison report to download: self-contained HTML (or Markdown) with the verdict, the tables, the
charts, and a stamp (model, versions, signature digests, model profiles, time, image count).

Every text is escaped: file names, targets and class names come from uploads and the server; their hidden
characters (bidi overrides, zero-width and control characters) are written as escapes (dashboard.plain.visible).
Charts are SVG made offline by vl-convert (the `report` extra) and embedded as data: images, so nothing in them can
run; without vl-convert the report says so and keeps the tables.
"""
from __future__ import annotations

import base64
import html
import math
import numbers
from datetime import datetime, timezone
from typing import Iterable, Sequence

import altair as alt
import pandas as pd

from dashboard.compare import charts, tables
from dashboard.compare.decision import Decision
from dashboard.compare.profiles import profile_stamp
from dashboard.compare.promotion import PromotionPlan
from dashboard.runs.stats import Interval
from dashboard.plain import escape_markdown, visible

CHANGED_ROWS = 50
NO_CHARTS = ("Charts were not rendered: vl-convert-python (the `report` extra) is not installed here; "
             "the tables carry the same numbers.")
_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
overflow-wrap:anywhere}
th{background:#f3f3f3}.verdict{font-size:1.25em;font-weight:600;padding:.6em;border-left:6px solid #4c78a8;
background:#f5f8fc}.warn{color:#8a4b00}pre{background:#f6f6f6;padding:.8em;white-space:pre-wrap;
overflow-wrap:anywhere}img{max-width:100%}"""


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _percent(interval: Interval | None, signed: bool = False) -> str:
    if interval is None:
        return "—"
    sign = "+" if signed else ""
    return (f"{interval.estimate * 100:{sign}.1f}% ({interval.level_text} {interval.low * 100:{sign}.1f} to "
            f"{interval.high * 100:{sign}.1f}; {interval.method})")


def stamp_rows(decision: Decision, generated_at: datetime) -> list[tuple[str, str]]:
    truth = decision.truth.images if decision.truth else 0
    rows = [("model", _text(decision.model)), ("generated", generated_at.isoformat(timespec="seconds")),
            ("images", f"{decision.images} ({decision.paired_images} classified by both, {truth} with ground truth)")]
    for side, name in (("A", decision.a), ("B", decision.b)):
        versions = ", ".join(map(str, decision.versions.get(side, []))) or "—"
        rows.append((side, f"{name} (version {versions}); signature {decision.digests.get(side, 'not known')}; "
                           f"{profile_stamp(decision.profiles.get(side))}"))
    return rows


def number_rows(decision: Decision) -> list[tuple[str, str]]:
    rows = []
    truth, agreement = decision.truth, decision.agreement
    if truth:
        rows += [("accuracy A", _percent(truth.accuracy_a)), ("accuracy B", _percent(truth.accuracy_b)),
                 ("B − A", _percent(truth.difference, signed=True)),
                 ("B − A (bootstrap)", _percent(truth.bootstrap, signed=True)),
                 ("McNemar's exact test", f"p = {truth.mcnemar_p:.4g} (fixes {truth.fixes}, regressions "
                                          f"{truth.regressions})")]
    if agreement:
        kappa = "undefined" if agreement.kappa is None else f"{agreement.kappa:.3f}"
        rows += [("agreement", _percent(agreement.rate)), ("Cohen's κ", kappa),
                 ("mean change in top-class confidence", f"{agreement.mean_confidence_change:+.3f}")]
    return rows


def sections(decision: Decision) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) in the order the report shows them."""
    found = [("Cost per side (latency measured on its own; server errors only)", decision.cost)]
    if len(decision.input_errors):
        found.append(("Input errors (not counted against the server)", decision.input_errors))
    found.append(("Flip matrix (A rows, B columns)", decision.flip_matrix.reset_index()))
    if decision.truth:
        found += [("Right/wrong transitions", decision.truth.transitions.reset_index()),
                  ("Per-class recall", decision.truth.per_class_recall),
                  ("Confusion difference B − A (true class on rows)",
                   decision.truth.confusion_difference.reset_index())]
    if decision.agreement is not None and len(decision.agreement.flips_by_pair):
        found.append(("Flips by class pair", decision.agreement.flips_by_pair))
    changed = tables.changed_images(decision.paired, disagreements_only=False).head(CHANGED_ROWS)
    found.append((f"Images that changed most (first {CHANGED_ROWS})", changed[
        ["source", "truth", "top_a", "confidence_a", "top_b", "confidence_b", "transition", "js_distance",
         "tv_distance"]]))
    if decision.signatures is not None:
        found.append(("Signatures", decision.signatures))
    return found


def decision_charts(decision: Decision) -> list[tuple[str, alt.TopLevelMixin]]:
    found = [("flip matrix", charts.flip_matrix_chart(tables.flip_cells(decision.flip_matrix), decision.a,
                                                       decision.b)),
             ("probability shift", charts.shift_histogram_chart(tables.shift_histogram(decision.paired)))]
    if decision.truth:
        found += [("confusion difference", charts.confusion_difference_chart(
                      tables.confusion_difference_cells(decision.truth.confusion_difference))),
                  ("reliability", charts.reliability_overlay(decision.truth.calibration,
                                                             decision.truth.calibration_scores))]
    return found


def render_svgs(named: Sequence[tuple[str, alt.TopLevelMixin]]) -> list[tuple[str, str]] | None:
    """(name, SVG text) per chart, or None when vl-convert is not installed."""
    try:
        import vl_convert
    except ImportError:
        return None
    return [(name, vl_convert.vegalite_to_svg(chart.to_dict())) for name, chart in named]


def _h(text: object) -> str:
    """A text as HTML: hidden characters made visible, then HTML-escaped (quotes too, for attributes)."""
    return html.escape(visible(text), quote=True)


def _lines(text: str) -> list[str]:
    """A multi-line text's lines, each with its hidden characters made visible."""
    return [visible(line) for line in text.split("\n")]


def _h_lines(text: str) -> str:
    return html.escape("\n".join(_lines(text)))


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_h(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_h(_text(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pairs_table(rows: Iterable[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{_h(k)}</th><td>{_h(v)}</td></tr>" for k, v in rows) + \
        "</table>"


def report_html(decision: Decision, *, promotion: PromotionPlan | None = None,
                generated_at: datetime | None = None, render_charts: bool = True) -> str:
    """The report as one HTML document with no external resources."""
    generated_at = generated_at or datetime.now(timezone.utc)
    title = f"ServeScope comparison: {decision.model or 'model'}, A {decision.a} vs B {decision.b}"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_h(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{_h(title)}</h1>",
             f"<p class='verdict'>{_h(decision.headline)}</p>",
             _pairs_table(stamp_rows(decision, generated_at)),
             f"<p>{_h(decision.sentence)}</p>"]
    if decision.images_needed_text:
        parts.append(f"<p>{_h(decision.images_needed_text)}</p>")
    if decision.warnings:
        parts.append("<ul>" + "".join(f"<li class='warn'>{_h(w)}</li>" for w in decision.warnings) + "</ul>")
    parts += ["<h2>The numbers</h2>", _pairs_table(number_rows(decision))]
    parts.append(f"<p>{_h(decision.latency_how)}</p>")
    for heading, frame in sections(decision):
        parts += [f"<h2>{_h(heading)}</h2>", _html_table(frame)]
    svgs = render_svgs(decision_charts(decision)) if render_charts else None
    parts.append("<h2>Charts</h2>")
    if svgs is None:
        parts.append(f"<p>{_h(NO_CHARTS)}</p>")
    else:
        for name, svg in svgs:
            data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
            parts.append(f"<figure><img alt='{_h(name)}' "
                         f"src='data:image/svg+xml;base64,{data}'></figure>")
    if promotion is not None:
        # Each step's words as a paragraph (it wraps at the page's width), its config as a block that wraps too.
        parts.append("<h2>Promotion</h2>")
        for number, step in enumerate(promotion.steps, 1):
            parts += [f"<h3>{number}. {_h(step.title)}</h3>", f"<p>{_h(step.explanation)}</p>"]
            if step.config:
                parts.append(f"<pre>{_h_lines(step.config)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _md(value: object) -> str:
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return _text(value)   # digits, sign, dot and "—" only: nothing Markdown reads
    return escape_markdown(_text(value), limit=None)


def _md_table(columns: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(_md(c) for c in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report_markdown(decision: Decision, *, promotion: PromotionPlan | None = None,
                    generated_at: datetime | None = None) -> str:
    """The same report as Markdown (tables only; charts are in the HTML report)."""
    generated_at = generated_at or datetime.now(timezone.utc)
    out = [f"# ServeScope comparison: {_md(decision.model or 'model')}, A {_md(decision.a)} vs B {_md(decision.b)}",
           f"**{_md(decision.headline)}**", _md_table(["", ""], stamp_rows(decision, generated_at)),
           _md(decision.sentence)]
    if decision.images_needed_text:
        out.append(_md(decision.images_needed_text))
    out += [f"- {_md(w)}" for w in decision.warnings]
    out += ["## The numbers", _md_table(["measure", "value"], number_rows(decision)), _md(decision.latency_how)]
    for heading, frame in sections(decision):
        out += [f"## {_md(heading)}", _md_table(list(frame.columns), frame.itertuples(index=False))]
    out.append("Charts: see the HTML report.")
    if promotion is not None:
        # The words as paragraphs (they wrap); each config in a fenced block, shown literally (no backticks occur in
        # a config, and any would be replaced).
        out.append("## Promotion")
        for number, step in enumerate(promotion.steps, 1):
            out += [f"### {number}. {_md(step.title)}", _md(step.explanation)]
            if step.config:
                out.append("```text\n" + "\n".join(_lines(step.config)).replace("`", "'") + "\n```")
    return "\n\n".join(out) + "\n"
