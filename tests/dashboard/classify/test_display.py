"""What the results tables show (no "None" anywhere, the error on screen) and the shared class colours."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard import charts
from dashboard.classify import display


def rows_with_failures() -> pd.DataFrame:
    """One good row, one the server rejected, one that never reached it (bad ZIP member)."""
    return pd.DataFrame({
        "thumbnail": ["data:image/jpeg;base64,AAAA", None, None],
        "source": ["cat.jpg", "broken.jpg", "a.zip/x.jpg"],
        "top_class": ["cat", None, None],
        "confidence": [0.9, np.nan, np.nan],
        "prob_cat": [0.9, np.nan, np.nan],
        "version": pd.array([1, 1, None], dtype="Int64"),
        "latency_ms": [12.0, 30.0, np.nan],
        "error": [None, "broken.jpg: corrupt or truncated image", "a.zip/x.jpg: not an image"],
    })


def test_display_copy_has_blanks_a_failed_tile_and_short_errors():
    raw = rows_with_failures()
    shown = display.for_display(raw)
    assert shown.to_dict("list") | {"confidence": None, "prob_cat": None, "latency_ms": None} == {
        "thumbnail": ["data:image/jpeg;base64,AAAA", display.FAILED_THUMBNAIL, display.FAILED_THUMBNAIL],
        "source": ["cat.jpg", "broken.jpg", "a.zip/x.jpg"],
        "top_class": ["cat", "", ""],
        "version": ["1", "1", ""],
        "error": ["", "corrupt or truncated image", "not an image"],
        "confidence": None, "prob_cat": None, "latency_ms": None,
    }
    # Numbers stay numbers (progress bars draw nothing for NaN); the raw frame (CSV) is untouched.
    assert shown["confidence"].dtype == np.float64 and np.isnan(shown.loc[1, "confidence"])
    assert pd.isna(raw.loc[1, "top_class"]) and raw.loc[1, "error"].startswith("broken.jpg: ")
    text_cells = shown.drop(columns=["confidence", "prob_cat", "latency_ms"]).to_numpy().ravel()
    assert not any(cell is None or (isinstance(cell, float) and np.isnan(cell)) for cell in text_cells)


def test_row_without_thumbnail_but_no_error_gets_a_blank_not_the_failed_tile():
    raw = rows_with_failures().iloc[:1].assign(thumbnail=[None])  # past MAX_THUMBNAILS
    assert display.for_display(raw)["thumbnail"].tolist() == [""]


def test_error_column_comes_right_after_the_file_only_when_something_failed():
    raw = rows_with_failures()
    assert display.column_order(raw, hidden=["confidence"]) == [
        "thumbnail", "source", "error", "top_class", "prob_cat", "version", "latency_ms"]
    clean = raw.iloc[:1]
    assert display.column_order(clean) == ["thumbnail", "source", "top_class", "confidence", "prob_cat", "version",
                                          "latency_ms"]
    assert display.has_errors(display.for_display(raw)) and not display.has_errors(display.for_display(clean))


def test_latency_scale_spans_every_column_and_survives_no_data():
    assert display.latency_scale_ms(pd.Series([12.0, np.nan]), pd.Series([40.5])) == 40.5
    assert display.latency_scale_ms(pd.Series([np.nan])) == 1.0


def _colour_of(spec: dict) -> dict[str, str]:
    def find(node):
        if isinstance(node, dict):
            if "color" in node and isinstance(node["color"], dict) and "scale" in node["color"]:
                return node["color"]["scale"]
            for value in node.values():
                if (found := find(value)) is not None:
                    return found
        if isinstance(node, list):
            for value in node:
                if (found := find(value)) is not None:
                    return found
        return None
    scale = find(spec)
    return dict(zip(scale["domain"], scale["range"]))


def test_a_class_has_the_same_colour_on_every_chart():
    cat, dog, other = charts.CLASS_PALETTE[:3]
    assert _colour_of(charts.probability_chart({"cat": 0.7, "dog": 0.2, "other": 0.1}).to_dict()) == {
        "cat": cat, "dog": dog, "other": other}
    scatter = pd.DataFrame({"source": ["a"] * 3, "class": ["cat", "dog", "other"], "probability_a": [0.1, 0.2, 0.7],
                            "probability_b": [0.1, 0.3, 0.6]})
    assert _colour_of(charts.agreement_scatter(scatter, "A", "B", ("cat", "dog", "other")).to_dict()) == {
        "cat": cat, "dog": dog, "other": other}
