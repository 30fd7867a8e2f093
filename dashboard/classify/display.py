"""Results tables as they appear on screen (the CSV downloads keep the raw frames), and one row as the image detail
view shows it (detail_image).

st.dataframe prints a missing value as a grey "None", which reads like a class or a version called None; so the
display copy shows blanks, a crossed-out tile for an image that failed, and the error next to the file name.
"""
from __future__ import annotations

import base64
from typing import Sequence

import pandas as pd

from client import schema
from dashboard.evaluate.detail import DetailImage, SideView
from dashboard.plain import visible_cells
from dashboard.runs.results import StoredRun, short_names, top5_of
from dashboard.targets import Target

_FAILED_TILE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="72" height="72" viewBox="0 0 72 72">'
    '<rect width="72" height="72" rx="8" fill="#eeeeee"/>'
    '<path d="M24 24 L48 48 M48 24 L24 48" stroke="#9e9e9e" stroke-width="6" stroke-linecap="round"/></svg>'
)
FAILED_THUMBNAIL = "data:image/svg+xml;base64," + base64.b64encode(_FAILED_TILE_SVG.encode()).decode("ascii")
VERSION_COLUMNS = ("version", "version_a", "version_b")
# Schema columns a results table leaves out (they stay in the CSV): the same for every row of one run, or
# filled in only by the evaluation pages.
RUN_COLUMNS = ("ground_truth", "correct", "correction", "corrected_at", "model", "target", "error_type")


def has_errors(frame: pd.DataFrame) -> bool:
    """Whether any row has an error message (raw frames hold None, display copies "")."""
    return "error" in frame and bool(frame["error"].fillna("").astype(str).ne("").any())


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with blanks for missing text, versions as text (blank when the row never reached the server)
    and FAILED_THUMBNAIL where an errored row has no thumbnail. Numeric columns keep NaN: the pages show
    them as progress bars, which draw nothing for a missing value. Text cells show their hidden characters as
    escapes (dashboard.plain.visible), except `source`: it stays the stored name, the row's key for corrections
    (the page shows the escaped short name beside it)."""
    shown = frame.copy()
    failed = shown["error"].notna() if "error" in shown else pd.Series(False, index=shown.index)
    for column in shown.columns:
        if column in VERSION_COLUMNS:
            shown[column] = [("" if pd.isna(value) else str(int(value))) for value in shown[column]]
        elif column == "thumbnail":
            shown[column] = [FAILED_THUMBNAIL if is_failed and pd.isna(uri) else ("" if pd.isna(uri) else uri)
                             for uri, is_failed in zip(shown[column], failed)]
        elif not pd.api.types.is_numeric_dtype(shown[column]) and not pd.api.types.is_bool_dtype(shown[column]):
            shown[column] = shown[column].astype(object).where(shown[column].notna(), "")
    if "error" in shown and "source" in shown:
        shown["error"] = [_without_name(message, name) for message, name in zip(shown["error"], shown["source"])]
    return visible_cells(shown, skip=["source"])


def _without_name(message: str, source: str) -> str:
    """Messages start with the file's name for the error list; in the table the name is in its own column."""
    prefix = f"{source}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def column_order(frame: pd.DataFrame, leading: Sequence[str] = ("thumbnail", "source"),
                 hidden: Sequence[str] = ()) -> list[str]:
    """`leading` columns first, then "error" when any row failed (so the reason is on screen, not scrolled
    off to the right), then the rest in frame order; an all-blank error column and `hidden` are left out."""
    errors = ["error"] if has_errors(frame) else []
    skip = {*leading, "error", *hidden}
    return [c for c in leading if c in frame] + errors + [c for c in frame.columns if c not in skip]


def latency_scale_ms(*columns: pd.Series) -> float:
    """Upper end for latency bars: the largest latency shown (1 ms when there is none, so the bar is valid)."""
    values = pd.concat([c.dropna() for c in columns]) if columns else pd.Series(dtype=float)
    return float(max(values.max(), 1.0)) if len(values) else 1.0


def detail_image(stored: StoredRun, source: str) -> DetailImage | None:
    """One image of a stored run as the detail view shows it (dashboard.evaluate.detail), or None when the run has
    no row named `source`."""
    found = stored.rows.index[stored.rows["source"] == source].tolist()
    if not found:
        return None
    position = found[0]
    row = stored.rows.loc[position]
    run = stored.run
    names = dict(zip(stored.rows.index, short_names(stored.rows["source"].tolist())))
    ok = pd.isna(row["error"])
    correction = row.get("correction")
    corrected = correction is not None and not pd.isna(correction)
    detected = None if pd.isna(row.get("ground_truth")) else str(row["ground_truth"])
    side = SideView(name="", url=run.url, model=run.model, version=run.version, label=Target.parse(run.target).label,
                    probabilities={c: float(row[schema.prob_column(c)]) for c in stored.class_names} if ok else None,
                    top5=tuple(top5_of(stored.extras.get(position))), error=None if ok else str(row["error"]))
    return DetailImage(source=str(source), name=names[position], thumbnail=stored.thumbnails.get(position),
                       truth=str(correction) if corrected else detected, corrected=corrected, detected=detected,
                       sides=(side,))
