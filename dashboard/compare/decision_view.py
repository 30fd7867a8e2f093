"""The Compare page's decision view: the plain-language verdict first, its statistics beneath, cost, the flip
matrix with one table of the images it selects (and the correction control), charts, signatures, promotion and
downloads for one dashboard.compare.decision.Decision. Streamlit-facing.

Every string that came from a file or the server (targets, class names, file names, warnings that quote them)
is shown through st.text/st.code/st.dataframe, or escaped with dashboard.plain.escape_markdown.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import pandas as pd
import streamlit as st

from client import schema
from dashboard import charts
from dashboard.compare import charts as decision_charts
from dashboard.compare import tables
from dashboard.compare.decision import Decision, Verdict, format_p
from dashboard.compare.promotion import PromotionPlan
from dashboard.compare.report import report_html, report_markdown
from dashboard.evaluate import charts as evaluation_charts
from dashboard.evaluate import detail_view
from dashboard.evaluate.detail import DetailImage
from dashboard.evaluate import metrics
from dashboard.plain import escape_markdown, visible, visible_cells
from dashboard.ui.full_image import ImageOpener, full_image_picker

Correction = Callable[[str, str], None]
ALL_FLIPS = "every image where the top class changed"
ALL_IMAGES = "every image, the most changed first"
CHOOSE_CLASS = "choose the true class"


def _md(text: object) -> str:
    return escape_markdown(text, limit=None)


def _percent(value: float) -> str:
    return f"{value:.1%}"


def _verdict_card(d: Decision) -> None:
    box = {Verdict.BETTER: st.success, Verdict.WORSE: st.error}.get(d.verdict, st.info)
    box(_md(d.headline))
    with st.container(border=True):
        st.caption(_md(d.sentence))
        truth, agreement = d.truth, d.agreement
        if truth is not None:
            cols = st.columns(3)
            a, b, diff = truth.accuracy_a, truth.accuracy_b, truth.difference
            cols[0].metric(_md(f"A: {d.a}"), _percent(a.estimate), help=f"{a.level_text} {_percent(a.low)} to "
                           f"{_percent(a.high)} (Wilson), {truth.images} images")
            cols[1].metric(_md(f"B: {d.b}"), _percent(b.estimate), delta=f"{diff.estimate * 100:+.1f} points",
                           help=f"{b.level_text} {_percent(b.low)} to {_percent(b.high)} (Wilson), "
                                f"{truth.images} images")
            cols[2].metric("Fixes / regressions", f"{truth.fixes} / {truth.regressions}",
                           help="Fix: A wrong, B right. Regression: A right, B wrong.")
            boot = truth.bootstrap
            st.caption(f"B − A: {diff.estimate * 100:+.1f} points, {diff.level_text} {diff.low * 100:+.1f} to "
                       f"{diff.high * 100:+.1f} ({diff.method}); {boot.low * 100:+.1f} to {boot.high * 100:+.1f} "
                       f"({boot.method}). McNemar's exact test: {format_p(truth.mcnemar_p)}, two-sided, on the "
                       f"{truth.fixes + truth.regressions} images where exactly one side is right; significant "
                       f"when below {d.alpha:g}.")
        elif agreement is not None:
            cols = st.columns(4)
            rate, kappa = agreement.rate, agreement.kappa
            cols[0].metric("Agreement", _percent(rate.estimate),
                           help=f"{rate.level_text} {_percent(rate.low)} to {_percent(rate.high)} (Wilson)")
            cols[1].metric("Cohen's κ", "—" if kappa is None else f"{kappa:.2f}")
            cols[2].metric("Flips", agreement.images - agreement.agreements)
            cols[3].metric("Mean change in top-class confidence", f"{agreement.mean_confidence_change:+.3f}")
        if d.images_needed_text:
            st.caption(_md(d.images_needed_text))
    for warning in d.warnings:
        st.warning(_md(warning))


def _cost(d: Decision) -> None:
    """Latency per side measured on its own (the probe), server errors only; input errors listed apart."""
    st.dataframe(visible_cells(d.cost), hide_index=True, key=None, column_config={
        "side": st.column_config.TextColumn("target"),
        "server_errors": st.column_config.NumberColumn("server errors"),
        "error_rate": st.column_config.NumberColumn("server error rate", format="percent",
                                                    help="Server errors over the images sent; input errors (corrupt "
                                                         "files) are not the server's and are listed apart"),
        "input_errors": st.column_config.NumberColumn("input errors"),
        "probe_requests": st.column_config.NumberColumn("timed requests"),
        **{c: st.column_config.NumberColumn(c.replace("_ms", " (ms)"), format="%.1f")
           for c in ("p50_ms", "p95_ms", "p99_ms")},
        "images_per_s": st.column_config.NumberColumn("images/s", format="%.1f",
                                                      help="One image at a time: 1,000 / mean latency (ms)")})
    st.caption(_md(d.latency_how))
    if len(d.input_errors):
        with st.expander(f"Input errors ({len(d.input_errors)}): files no side could use, not counted against "
                         "the server"):
            st.dataframe(visible_cells(d.input_errors), hide_index=True, column_config={
                "side": st.column_config.TextColumn("target"), "source": st.column_config.TextColumn("file"),
                "error": st.column_config.TextColumn("error", width="large")})


def _image_table(rows: pd.DataFrame, thumbnails: Mapping[str, str] | None, key: str, detail_key: str | None = None,
                 queue_name: str = "") -> None:
    """The images a flip cell (or filter) selects; with `detail_key`, a click on a row opens the image detail view,
    A and B side by side, with these images as its queue."""
    shown = rows[["source", "truth", "top_a", "confidence_a", "top_b", "confidence_b", "transition",
                  "js_distance", "tv_distance"]].copy()
    shown["truth"] = shown["truth"].astype(object).where(shown["truth"].notna(), "")
    config = {"source": st.column_config.TextColumn("image"),
              "top_a": st.column_config.TextColumn("A top class"), "top_b": st.column_config.TextColumn("B top class"),
              "confidence_a": st.column_config.ProgressColumn("A confidence", min_value=0.0, max_value=1.0,
                                                              format="percent"),
              "confidence_b": st.column_config.ProgressColumn("B confidence", min_value=0.0, max_value=1.0,
                                                              format="percent"),
              "js_distance": st.column_config.NumberColumn("JS distance", format="%.3f"),
              "tv_distance": st.column_config.NumberColumn("TV distance", format="%.3f")}
    if thumbnails:
        shown.insert(0, "thumbnail", [thumbnails.get(s) for s in shown["source"]])
        config["thumbnail"] = st.column_config.ImageColumn("", width="small")
    options = {} if detail_key is None else {"on_select": "rerun", "selection_mode": "single-row"}
    event = st.dataframe(visible_cells(shown), hide_index=True, column_config=config, key=key, **options)
    if detail_key is not None:
        detail_view.follow_table(event, rows["source"].astype(str).tolist(), key=detail_key, table_key=key,
                                 queue_name=queue_name)


def _cell_option(a_class: object, b_class: object, count: int) -> str:
    return f"{a_class} → {b_class} ({count})"


def _follow_click(event: object, cells: pd.DataFrame, options: list[str], select_key: str, seen_key: str) -> None:
    """A newly clicked cell becomes the selector's choice, so the selector always names what is listed; a click
    seen before leaves the selector to the reader."""
    selection = (event or {}).get("selection") or {}   # the chart's state: a dict with attribute access too
    clicked = selection.get(decision_charts.FLIP_SELECTION) or []
    cell = (clicked[0].get("a_class"), clicked[0].get("b_class")) if clicked else None
    if cell == st.session_state.get(seen_key):
        return
    st.session_state[seen_key] = cell
    if cell is None:
        return
    match = cells[(cells["a_class"] == cell[0]) & (cells["b_class"] == cell[1])]
    option = _cell_option(cell[0], cell[1], int(match["count"].iloc[0])) if len(match) else None
    if option in options:
        st.session_state[select_key] = option


def _flip_matrix(d: Decision, key_prefix: str, thumbnails: Mapping[str, str] | None,
                 on_correction: Correction | None, detail: bool = False,
                 open_image: ImageOpener | None = None) -> None:
    """The flip matrix, the selector of the images it lists (a clicked cell shows in it), one table of them and
    the correction control for them."""
    cells = tables.flip_cells(d.flip_matrix)
    event = st.altair_chart(decision_charts.flip_matrix_chart(cells, d.a, d.b), on_select="rerun",
                            selection_mode=decision_charts.FLIP_SELECTION, key=f"{key_prefix}_flip_chart")
    options = [ALL_FLIPS, ALL_IMAGES] + [_cell_option(c.a_class, c.b_class, c.count) for c in cells.itertuples()
                                         if c.count]
    select_key = f"{key_prefix}_flip_cell"
    _follow_click(event, cells, options, select_key, f"{key_prefix}_flip_clicked")
    if st.session_state.get(select_key) not in (None, *options):
        del st.session_state[select_key]   # a cell of an earlier decision
    chosen = st.selectbox("Images in a cell (or click a cell)", options, key=select_key,
                          help="Flips first, then by Jensen–Shannon distance between the two probability vectors.")
    if chosen == ALL_FLIPS:
        rows = tables.changed_images(d.paired, disagreements_only=True)
    elif chosen == ALL_IMAGES:
        rows = tables.changed_images(d.paired, disagreements_only=False)
    else:
        cell = cells[cells["count"] > 0].iloc[options.index(chosen) - 2]
        rows = tables.images_in_cell(d.paired, cell["a_class"], cell["b_class"])
    st.caption(f"{len(rows)} image(s)" + (": click one to see it with A's and B's answers and where each model "
                                         "looked" if detail else ""))
    # The listing's key names what it lists: another choice starts without a row selected.
    listing = f"{key_prefix}_cell_images_{options.index(chosen)}"
    _image_table(rows, thumbnails, listing, key_prefix if detail else None, f"“{chosen}”")
    full_image_picker(rows["source"].tolist(), open_image, key=f"{key_prefix}_cell_full")
    if on_correction is not None and len(rows):
        _correction(d, key_prefix, rows, on_correction)


def _correction(d: Decision, key_prefix: str, rows: pd.DataFrame, on_correction: Correction) -> None:
    """Pick an image of `rows` and its true class; no class is chosen for the reader, and Save waits for one."""
    left, middle, right = st.columns([3, 2, 1], vertical_alignment="bottom")
    image_key, class_key = f"{key_prefix}_correct_image", f"{key_prefix}_correct_class"
    left.selectbox("Correct an image", rows["source"].tolist(), key=image_key, format_func=visible)
    middle.selectbox("True class", list(d.class_order), key=class_key, index=None, placeholder=CHOOSE_CLASS,
                     format_func=visible)

    def save() -> None:
        # Read the widgets when clicked: arguments bound at render time would be one edit behind.
        on_correction(st.session_state[image_key], st.session_state[class_key])
        st.session_state[class_key] = None   # the next image's class is chosen afresh

    right.button("Save correction", key=f"{key_prefix}_correct_save", on_click=save,
                 disabled=st.session_state.get(class_key) is None)


def _probabilities_long(d: Decision) -> pd.DataFrame:
    parts = [pd.DataFrame({"source": d.paired["source"], "class": name,
                           "probability_a": d.paired[f"{schema.prob_column(name)}_a"],
                           "probability_b": d.paired[f"{schema.prob_column(name)}_b"]}) for name in d.classes]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["source", "class", "probability_a", "probability_b"])


def _distributions(d: Decision) -> None:
    left, right = st.columns(2)
    with left:
        if len(d.paired):
            st.altair_chart(charts.agreement_scatter(_probabilities_long(d), d.a, d.b, list(d.classes)),
                            width="stretch")
    with right:
        basis = "the true class" if d.truth is not None else "A's top class"
        st.altair_chart(decision_charts.shift_histogram_chart(tables.shift_histogram(d.paired), basis),
                        width="stretch")
    if d.truth is not None:
        order = list(d.class_order)
        for column, side, name in zip(st.columns(2), ("a", "b"), (f"A: {d.a}", f"B: {d.b}")):
            cells = metrics.confusion_long(tables.side_frame(d.paired, side), order)
            column.altair_chart(evaluation_charts.confusion_heatmap(cells, order).properties(
                title=f"Confusion matrix, {name}"), width="stretch")
        left, right = st.columns(2)
        left.altair_chart(decision_charts.confusion_difference_chart(
            tables.confusion_difference_cells(d.truth.confusion_difference)), width="stretch")
        right.altair_chart(decision_charts.reliability_overlay(d.truth.calibration, d.truth.calibration_scores),
                           width="stretch")
        recall = d.truth.per_class_recall.assign(change=d.truth.per_class_recall["change"] * 100)
        st.dataframe(recall, hide_index=True, column_config={
            "class": st.column_config.TextColumn("true class"), "support": st.column_config.NumberColumn("images"),
            "recall_a": st.column_config.NumberColumn("recall, A", format="percent"),
            "recall_b": st.column_config.NumberColumn("recall, B", format="percent"),
            "change": st.column_config.NumberColumn("change (points)", format="%+.1f")})


def _signatures(d: Decision) -> None:
    if d.signatures is None:
        st.caption("Signatures were not fetched for this comparison.")
        return

    def highlight(row: pd.Series) -> list[str]:
        return ["background-color: #fff3cd" if row["differs"] else ""] * len(row)

    st.dataframe(d.signatures.style.apply(highlight, axis=1), hide_index=True)
    st.text("\n".join(f"{side}: {digest}" for side, digest in d.digests.items()))


def _promotion(d: Decision, plan: PromotionPlan) -> None:
    if d.verdict is not Verdict.BETTER:
        st.caption("B has not been shown better; this is what promoting it would take, for reference.")
    for number, step in enumerate(plan.steps, 1):
        st.markdown(f"**{number}. {_md(step.title)}**")
        st.caption(_md(step.explanation))
        if step.config:
            st.code(step.config, language="text")


def per_image_table(d: Decision) -> pd.DataFrame:
    """What the per-image downloads carry: the paired frame, ranked as on screen, with each side's model profile
    digest (profile_a, profile_b; empty when not recorded)."""
    table = tables.changed_images(d.paired)
    return table.assign(**{f"profile_{side.lower()}": d.profiles[side].digest if side in d.profiles else None
                           for side in ("A", "B")})


def _downloads(d: Decision, key_prefix: str, plan: PromotionPlan | None) -> None:
    cols = st.columns(4)
    table = per_image_table(d)
    cols[0].download_button("Per-image CSV", schema.to_csv_bytes(table), "comparison.csv", "text/csv",
                            key=f"{key_prefix}_csv")
    cols[1].download_button("Per-image JSON", table.to_json(orient="records", force_ascii=False),
                            "comparison.json", "application/json", key=f"{key_prefix}_json")
    # Deferred: the report renders its charts only when someone asks for it.
    cols[2].download_button("Report (HTML)", lambda: report_html(d, promotion=plan), "comparison-report.html",
                            "text/html", key=f"{key_prefix}_report_html")
    cols[3].download_button("Report (Markdown)", lambda: report_markdown(d, promotion=plan),
                            "comparison-report.md", "text/markdown", key=f"{key_prefix}_report_md")


def render_decision(result: Decision, *, key_prefix: str, thumbnails: Mapping[str, str] | None = None,
                    on_correction: Correction | None = None, promotion: PromotionPlan | None = None,
                    image_of: Callable[[str], DetailImage | None] | None = None,
                    open_image: ImageOpener | None = None) -> None:
    """Everything about B against A, top to bottom. `thumbnails`: source -> data: URI (classify_runs.jpeg_data_uri);
    `on_correction(source, true_class)` is offered per image when given; `promotion` is shown when given;
    `image_of(source)`: the image as the detail view shows it (dashboard.compare.stored.detail_image), which a click
    on a listed image then opens; `open_image` (dashboard.ui.full_image) opens the changed images at full size."""
    d = result
    _verdict_card(d)
    st.subheader("Cost of switching")
    _cost(d)
    st.subheader("Flip matrix and the images that changed")
    _flip_matrix(d, key_prefix, thumbnails, on_correction, detail=image_of is not None, open_image=open_image)
    if image_of is not None:
        detail_view.show_if_open(key_prefix, class_names=d.class_order, image_of=image_of,
                                 on_correction=on_correction)
    st.subheader("Probabilities")
    _distributions(d)
    with st.expander("Signatures side by side"):
        _signatures(d)
    if promotion is not None:
        with st.expander("What promoting B means", expanded=d.verdict is Verdict.BETTER):
            _promotion(d, promotion)
    _downloads(d, key_prefix, promotion)


def render_decisions(results: Sequence[Decision], *, key_prefix: str, **options) -> None:
    """Several targets against one baseline: a tab each (one decision needs no tabs)."""
    if len(results) == 1:
        render_decision(results[0], key_prefix=key_prefix, **options)
        return
    for index, (tab, result) in enumerate(zip(st.tabs([_md(f"B: {r.b}") for r in results]), results)):
        with tab:
            render_decision(result, key_prefix=f"{key_prefix}_{index}", **options)
