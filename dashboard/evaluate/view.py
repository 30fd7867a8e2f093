"""Streamlit view of an evaluation: one call draws accuracy, per-class table, confusion matrix, calibration,
mistakes, review queue and the corrections editor for a result frame in the schema of client/schema.py; the
results table's filters. (Ground truth on the forms: dashboard.evaluate.truth_view.)

Every string that came from a file name, an archive or the server (sources, class names, truth values) is shown
through st.dataframe / st.data_editor / st.text with its hidden characters made visible (dashboard.plain.visible),
or escaped with dashboard.plain.escape_markdown.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import pandas as pd
import streamlit as st

from dashboard.evaluate import charts as evaluation_charts
from dashboard.evaluate import detail_view
from dashboard.evaluate import metrics as ev
from dashboard.plain import escape_markdown, visible, visible_cells
from dashboard.runs.results import short_names
from dashboard.runs.thumbnail_jpeg import THUMBNAIL_SIDE
from dashboard.ui.full_image import ImageOpener, full_image_picker

Thumbnails = Mapping[str, "str | None"]          # source -> data URI (None when no thumbnail was made)
CorrectionCallback = Callable[[str, "str | None"], None]   # (source, class or None to clear)
DEFAULT_THRESHOLD = 0.6
MISTAKES_SHOWN = 24

_PERCENT = {"format": "percent", "min_value": 0.0, "max_value": 1.0}
RATE_COLUMNS = ("precision", "recall", "f1")
RATE_FORMAT = "%.1f%%"    # the per-class table holds these rates × 100: "96.7%", "95.0%" alike


def _with_thumbnails(table: pd.DataFrame, thumbnails: Thumbnails | None) -> pd.DataFrame:
    if thumbnails is None:
        return table
    return table.assign(thumbnail=[thumbnails.get(source) for source in table["source"]])


def _columns(class_names: Sequence[str]) -> dict:
    """Column config shared by the tables here: thumbnails, bars for probabilities, readable headers."""
    config = {
        "thumbnail": st.column_config.ImageColumn("image", width="small"),
        "source": st.column_config.TextColumn("file", width="medium"),
        "top_class": st.column_config.TextColumn("predicted"),
        "truth": st.column_config.TextColumn("true class"),
        "ground_truth": st.column_config.TextColumn("detected truth"),
        "confidence": st.column_config.ProgressColumn("confidence", **_PERCENT),
        "first": st.column_config.TextColumn("1st class"),
        "first_p": st.column_config.ProgressColumn("P(1st)", **_PERCENT),
        "second": st.column_config.TextColumn("2nd class"),
        "second_p": st.column_config.ProgressColumn("P(2nd)", **_PERCENT),
        "correction": st.column_config.SelectboxColumn("correction", options=list(class_names),
                                                       help="The right class; clear it to use the detected truth"),
    }
    return config


def _table(frame: pd.DataFrame, shown: Sequence[str], class_names: Sequence[str], thumbnails: Thumbnails | None,
           key: str, detail_key: str | None = None, queue_name: str = "") -> None:
    """A table of images; with `detail_key`, clicking a row opens the image detail view with these images as its
    queue (dashboard.evaluate.detail_view)."""
    table = visible_cells(_with_thumbnails(frame, thumbnails))
    order = (["thumbnail"] if thumbnails is not None else []) + [c for c in shown if c in table]
    options = {} if detail_key is None else {"on_select": "rerun", "selection_mode": "single-row"}
    event = st.dataframe(table[order], hide_index=True, key=key, column_config=_columns(class_names),
                         column_order=order, placeholder="", **options)   # a blank, not "None", without truth
    if detail_key is not None:
        detail_view.follow_table(event, frame["source"].astype(str).tolist(), key=detail_key, table_key=key,
                                 queue_name=queue_name)


def render_evaluation(frame: pd.DataFrame, class_names: Sequence[str], *, key_prefix: str,
                      thumbnails: Thumbnails | None = None, on_correction: CorrectionCallback | None = None,
                      detail_key: str | None = None, open_image: ImageOpener | None = None) -> float:
    """Draw the whole evaluation of one run and return the review threshold the analyst chose. `detail_key`: the
    page's image detail view (dashboard.evaluate.detail_view), which a click on an image (a confusion cell's,
    a mistake, the review queue's) then opens; without it nothing opens. `open_image` (source -> bytes,
    dashboard.ui.full_image): the mistakes and a confusion cell's images open at full size."""
    names = list(class_names)
    summary = ev.accuracy_summary(frame, names)
    cover = ev.coverage(frame, names)
    if summary is None:
        st.info("No ground truth for these images: accuracy, the confusion matrix and calibration need it. "
                "Correct a few predictions below to start measuring.")
    else:
        _accuracy(summary)
        st.caption(cover.text())
        _confusion(frame, names, key_prefix, thumbnails, detail_key, open_image)
        with st.expander("Per class"):
            _per_class(frame, names, key_prefix)
        with st.expander("Calibration"):
            _calibration(frame, names)
        _mistakes(frame, names, thumbnails, key_prefix, detail_key, open_image)
    with st.expander("Confidence"):
        st.altair_chart(evaluation_charts.confidence_histogram_chart(ev.confidence_histogram(frame, names)),
                        width="stretch")
    threshold = _review(frame, names, key_prefix, thumbnails, with_truth=summary is not None, detail_key=detail_key)
    if on_correction is not None:
        _corrections(frame, names, key_prefix, thumbnails, on_correction)
    return threshold


def _per_class(frame: pd.DataFrame, names: list[str], key_prefix: str) -> None:
    """Precision, recall and F1 in one format: percent with one decimal (RATE_FORMAT, on values × 100)."""
    metrics = visible_cells(ev.per_class_metrics(frame, names))
    metrics[list(RATE_COLUMNS)] = metrics[list(RATE_COLUMNS)] * 100
    st.dataframe(metrics, hide_index=True, key=f"{key_prefix}_per_class", placeholder="", column_config={
        "class": st.column_config.TextColumn("class"),
        "precision": st.column_config.NumberColumn("precision", format=RATE_FORMAT),
        "recall": st.column_config.NumberColumn("recall", format=RATE_FORMAT),
        "f1": st.column_config.NumberColumn("F1", format=RATE_FORMAT),
        "support": st.column_config.NumberColumn("images (true)"),
        "predicted": st.column_config.NumberColumn("predicted as")})


def _accuracy(summary: ev.AccuracySummary) -> None:
    left, right = st.columns(2)
    left.metric("Accuracy", summary.value_text(), delta=f"{summary.count_text()} · {summary.interval_text()}",
                delta_color="off", delta_arrow="off",
                help=f"{summary.count_text()} images right; Wilson 95% interval "
                     f"{summary.low:.1%} to {summary.high:.1%}")
    if summary.imbalanced:
        right.metric("Balanced accuracy", f"{summary.balanced:.1%}",
                     help="Mean recall over the classes present: the classes have very different numbers of "
                          f"images (largest more than {ev.IMBALANCE_RATIO}× the smallest)")


def _confusion(frame: pd.DataFrame, names: list[str], key_prefix: str, thumbnails: Thumbnails | None,
               detail_key: str | None, open_image: ImageOpener | None = None) -> None:
    event = st.altair_chart(evaluation_charts.confusion_heatmap(ev.confusion_long(frame, names), names), width="stretch",
                            key=f"{key_prefix}_confusion", on_select="rerun",
                            selection_mode=evaluation_charts.CELL_SELECTION)
    chosen = selected_cell(event)
    if chosen is None:
        st.caption("Select a cell to list its images.")
        return
    true, predicted = chosen
    images = ev.cell_images(frame, names, true, predicted)
    st.text(visible(f"True {true}, predicted {predicted}: {len(images)} image(s)"))
    if len(images):
        _table(images, ["source", "confidence", "top_class", "truth"], names, thumbnails, f"{key_prefix}_cell",
               detail_key, f"true {true}, predicted {predicted}")
        full_image_picker(images["source"].tolist(), open_image, key=f"{key_prefix}_cell_full")


def selected_cell(event) -> tuple[str, str] | None:
    """(true, predicted) of the heatmap cell the analyst clicked, from st.altair_chart's selection event."""
    # The event is a dict ({"selection": {"cell": [{"true": ..., "predicted": ...}]}}) with attribute access too.
    points = ((event or {}).get("selection") or {}).get(evaluation_charts.CELL_SELECTION) or []
    if not points:
        return None
    point = points[0]
    return str(point["true"]), str(point["predicted"])


def _calibration(frame: pd.DataFrame, names: list[str]) -> None:
    chart, figures = st.columns([3, 1])
    chart.altair_chart(evaluation_charts.reliability_diagram(ev.reliability_bins(frame, names)), width="stretch")
    figures.metric("Expected calibration error", f"{ev.expected_calibration_error(frame, names):.3f}",
                   help="Images-weighted mean gap between confidence and accuracy over 10 confidence bins (0 is "
                        "perfect)")
    figures.metric("Brier score", f"{ev.brier_score(frame, names):.3f}",
                   help="Mean squared distance between the probabilities and the true class, summed over "
                        "classes (0 is perfect, 2 the worst)")


def _mistakes(frame: pd.DataFrame, names: list[str], thumbnails: Thumbnails | None, key_prefix: str,
              detail_key: str | None, open_image: ImageOpener | None = None) -> None:
    wrong = ev.mistakes(frame, names)
    with st.expander(f"Mistakes ({len(wrong)})"):
        _mistake_tiles(wrong, thumbnails, key_prefix, detail_key)
        full_image_picker(wrong.head(MISTAKES_SHOWN)["source"].tolist(), open_image, key=f"{key_prefix}_mistake_full")


def _mistake_tiles(wrong: pd.DataFrame, thumbnails: Thumbnails | None, key_prefix: str,
                   detail_key: str | None) -> None:
    if wrong.empty:
        st.caption("No mistakes among the images with ground truth.")
        return
    if len(wrong) > MISTAKES_SHOWN:
        st.caption(f"The {MISTAKES_SHOWN} most confident of {len(wrong)}; the review queue and table list all.")
    rows = list(wrong.head(MISTAKES_SHOWN).itertuples(index=False))
    uris = [thumbnails.get(row.source) if thumbnails is not None else None for row in rows]
    names_shown = dict(zip(wrong["source"], short_names(wrong["source"].tolist())))
    captions = [visible(f"{names_shown[row.source]}: {_verdict(row)}") for row in rows]
    if detail_key is not None:
        # One grid element of tiles at the thumbnails' own size (stretched they would be blurred and the grid very
        # tall); a click on a tile opens the image (dashboard.evaluate.detail_view).
        detail_view.follow_tiles(list(zip(uris, captions)), [str(row.source) for row in rows], key=detail_key,
                                 tiles_key=f"{key_prefix}_mistake_tiles", queue_name="the mistakes")
        return
    pictured = [(uri, caption) for uri, caption in zip(uris, captions) if uri]
    if pictured:
        st.image([uri for uri, _ in pictured], width=THUMBNAIL_SIDE,
                 caption=[escape_markdown(caption) for _, caption in pictured])
    if len(pictured) < len(rows):  # thumbnails still being made (or one could not be): the full names as text
        st.text("\n".join(visible(f"{row.source}: {_verdict(row)}") for uri, row in zip(uris, rows) if not uri))


def _verdict(row) -> str:
    return f"true {row.truth}, predicted {row.top_class} ({row.confidence:.0%})"


def _review(frame: pd.DataFrame, names: list[str], key_prefix: str, thumbnails: Thumbnails | None,
            with_truth: bool, detail_key: str | None = None) -> float:
    with st.expander("Review queue"):
        return _review_queue(frame, names, key_prefix, thumbnails, with_truth, detail_key)


def _review_queue(frame: pd.DataFrame, names: list[str], key_prefix: str, thumbnails: Thumbnails | None,
                  with_truth: bool, detail_key: str | None = None) -> float:
    threshold = st.slider("Review images below this confidence", 0.0, 1.0, DEFAULT_THRESHOLD, step=0.01,
                          key=f"{key_prefix}_threshold", format="%.2f")
    queue = ev.review_queue(frame, names, threshold)
    st.caption(f"{len(queue)} image(s) below {threshold:.0%}, least confident first.")
    if len(queue):
        _table(queue, ["source", "confidence", "first", "first_p", "second", "second_p", "truth"], names,
               thumbnails, f"{key_prefix}_queue", detail_key, "the review queue")
    if with_truth:
        at = ev.accuracy_at(frame, names, threshold)
        chart, figures = st.columns([3, 1])
        chart.altair_chart(evaluation_charts.accuracy_coverage_chart(ev.accuracy_coverage(frame, names), threshold),
                           width="stretch")
        figures.metric("Accuracy above the threshold", "—" if at["kept"] == 0 else f"{at['accuracy']:.1%}",
                       help="Accuracy on the images with ground truth at or above the threshold")
        figures.metric("Coverage", f"{at['coverage']:.0%}",
                       help="Share of the images with ground truth that no person would need to look at")
    return threshold


def _corrections(frame: pd.DataFrame, names: list[str], key_prefix: str, thumbnails: Thumbnails | None,
                 on_correction: CorrectionCallback) -> None:
    st.subheader("Corrections")
    st.caption("Pick the right class for a wrong prediction (or for an image without ground truth). A correction "
               "counts as ground truth for that image.")
    rows = ev.classified(frame)
    # Text columns as objects so a column of blanks keeps one type (the editor keeps edits while the types hold).
    editor = pd.DataFrame({"source": rows["source"].to_numpy(), "top_class": rows["top_class"].to_numpy(),
                           "confidence": rows["confidence"].to_numpy(dtype=float),
                           "ground_truth": ev.column_or_none(rows, "ground_truth").to_numpy(),
                           "correction": ev.column_or_none(rows, "correction").to_numpy()}).astype(
        {"source": object, "top_class": object, "ground_truth": object, "correction": object})
    editor = visible_cells(_with_thumbnails(editor, thumbnails), skip=["correction"])   # the options: class names
    order = (["thumbnail"] if thumbnails is not None else []) + ["source", "top_class", "confidence", "ground_truth",
                                                                  "correction"]
    edited = st.data_editor(editor, hide_index=True, key=f"{key_prefix}_corrections", column_order=order,
                            column_config=_columns(names), disabled=[c for c in order if c != "correction"],
                            placeholder="")
    changes = pending_corrections(editor.assign(source=rows["source"].to_numpy()), edited)   # the stored names
    sent_key = f"{key_prefix}_corrections_sent"
    if not changes:
        st.session_state.pop(sent_key, None)
    elif changes != st.session_state.get(sent_key):
        # Remembered so a caller that did not keep a correction cannot make this rerun forever.
        st.session_state[sent_key] = changes
        for source, correction in changes:
            on_correction(source, correction)
        st.rerun()   # draw the metrics above again with the corrections in


def pending_corrections(before: pd.DataFrame, after: pd.DataFrame) -> list[tuple[str, str | None]]:
    """(source, correction or None) for each editor row whose correction the analyst changed."""
    old, new = ev.column_or_none(before, "correction"), ev.column_or_none(after, "correction")
    return [(source, value) for source, was, value in zip(before["source"], old, new) if was != value]


def render_result_filters(frame: pd.DataFrame, class_names: Sequence[str], *, key_prefix: str,
                          threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Filters for a results table (predicted class, failed only, wrong only, confidence range, needs review);
    returns the rows to show, in frame order."""
    classes_box, range_box, checks = st.columns([3, 3, 2])
    classes = classes_box.multiselect("Predicted class", list(class_names), key=f"{key_prefix}_filter_classes",
                                      placeholder="every class")
    low, high = range_box.slider("Confidence", 0.0, 1.0, (0.0, 1.0), step=0.01, key=f"{key_prefix}_filter_range")
    errors_only = checks.checkbox("Failed only", key=f"{key_prefix}_filter_failed")
    wrong_only = checks.checkbox("Wrong only", key=f"{key_prefix}_filter_wrong",
                                 help="Predictions that disagree with the ground truth or a correction")
    review = checks.checkbox(f"Needs review (below {threshold:.0%})", key=f"{key_prefix}_filter_review")
    shown = ev.filter_results(frame, classes=classes or None, errors_only=errors_only, wrong_only=wrong_only,
                              confidence_range=(low, high), review_below=threshold if review else None)
    st.caption(f"{len(shown)} of {len(frame)} rows")
    return shown
