"""Ground truth on the Classify and Compare forms: a truth file read once per content, the line saying where the truth
came from, and the editor mapping truth values that match no class. Streamlit-facing.

Truth values and file names come from uploads: they are shown through st.data_editor with their hidden characters
made visible (dashboard.plain.visible), or escaped with dashboard.plain.escape_markdown.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from typing import Mapping, Sequence

import pandas as pd
import streamlit as st

from client.truth import MAX_TRUTH_BYTES, TruthDetection, TruthFileError, keyed_table, match_class, read_truth_file
from dashboard.plain import escape_markdown, visible

__all__ = ["IGNORE", "truth_table_of", "render_truth_summary", "render_truth_mapping"]

IGNORE = "(ignore)"


@st.cache_data(show_spinner="Reading the truth file…", max_entries=8, ttl=3600)
def _read_truth(name: str, digest: str, _data: bytes) -> tuple[Mapping[str, str] | None, str | None]:
    """(table keyed for lookup, None), or (None, the file's error): one parse per file name and content digest."""
    try:
        return keyed_table(read_truth_file(name, _data)), None
    except TruthFileError as exc:
        return None, str(exc)


def truth_table_of(upload) -> Mapping[str, str]:
    """The truth table of an uploaded truth file (Streamlit's UploadedFile), read once per content (by its SHA-256):
    reruns of the page reuse it. Raises client.truth.TruthFileError naming the file (over MAX_TRUTH_BYTES before
    it is hashed or parsed)."""
    data = upload.getvalue()
    if len(data) > MAX_TRUTH_BYTES:
        read_truth_file(upload.name, data)   # refuses it at once, naming the file and the limit
    table, error = _read_truth(upload.name, hashlib.sha256(data).hexdigest(), data)
    if error is not None:
        raise TruthFileError(error)
    return table


def render_truth_summary(detection: TruthDetection) -> None:
    """One line saying where the ground truth came from, and a warning when some values match no class."""
    st.caption(escape_markdown(detection.summary))
    if detection.unmatched:
        values = sum(detection.unmatched.values())
        st.warning(f"{len(detection.unmatched)} truth value(s) on {values} image(s) match no class: map them below "
                   "or they stay outside the metrics.")


def render_truth_mapping(detection: TruthDetection, class_names: Sequence[str], *, key_prefix: str) -> dict[str, str | None]:
    """An editor listing every truth value that matches no class by name (client.truth.match_class), with its image
    count and the class it maps to; returns value -> class (None: ignore), for detect_truth(mapping=...). Values
    already mapped stay listed, so a choice can be changed."""
    counts = Counter(detection.raw.values())
    values = [value for value in counts if match_class(value, class_names) is None]
    if not values:
        return {}
    table = pd.DataFrame({"value": [visible(value) for value in values],
                          "images": [counts[value] for value in values],
                          "class": [detection.mapping.get(value) or IGNORE for value in values]})
    edited = st.data_editor(table, hide_index=True, key=f"{key_prefix}_truth_mapping", disabled=["value", "images"],
                            column_config={
                                "value": st.column_config.TextColumn("value found"),
                                "images": st.column_config.NumberColumn("images"),
                                "class": st.column_config.SelectboxColumn("class", options=[*class_names, IGNORE],
                                                                          required=True)})
    # By position: the editor shows each value with its hidden characters escaped, the mapping keys are the values.
    return {value: (None if chosen in (None, IGNORE) else str(chosen))
            for value, chosen in zip(values, edited["class"])}
