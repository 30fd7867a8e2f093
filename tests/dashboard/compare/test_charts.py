"""The decision charts' specs: what a reader and Streamlit's selection rely on."""
from __future__ import annotations

from dashboard.compare import charts, tables
from dashboard.compare.decision import Side, decide
from tests.dashboard.compare.decision_frames import fixes_and_regressions


def decision():
    return decide(*map(Side, fixes_and_regressions(5, 2)))


def test_flip_matrix_cells_are_selectable_by_class_pair():
    d = decision()
    spec = charts.flip_matrix_chart(tables.flip_cells(d.flip_matrix), d.a, d.b).to_dict()
    # Altair lifts a layer's selection to the top of a layered chart.
    [param] = spec.get("params", []) + [p for layer in spec["layer"] for p in layer.get("params", [])]
    assert param["name"] == charts.FLIP_SELECTION
    assert param["select"]["fields"] == ["a_class", "b_class"] and param["select"]["type"] == "point"
    [values] = spec["datasets"].values()
    counts = {(v["a_class"], v["b_class"]): v["count"] for v in values}
    assert counts[("dog", "cat")] == 5 and counts[("dog", "other")] == 2 and len(counts) == 9


def test_confusion_difference_diverges_around_zero():
    d = decision()
    cells = tables.confusion_difference_cells(d.truth.confusion_difference)
    spec = charts.confusion_difference_chart(cells).to_dict()
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert scale["domainMid"] == 0 and scale["domain"] == [-5, 5]
    # The title and its reading hint fit the chart (Vega cuts a longer title): short lines, a width that holds them.
    assert spec["title"] == {"text": charts.DIFFERENCE_TITLE, "subtitle": list(charts.DIFFERENCE_HINT),
                             "anchor": "start"}
    assert spec["width"] == charts.DIFFERENCE_MIN_WIDTH == 260
    widest = max(len(line) for line in (charts.DIFFERENCE_TITLE, *charts.DIFFERENCE_HINT))
    assert widest * 7.5 <= spec["width"]   # ~7.5 px a character at Vega's 13 px title font


def test_reliability_overlay_names_ece_and_brier_per_side():
    d = decision()
    spec = charts.reliability_overlay(d.truth.calibration, d.truth.calibration_scores).to_dict()
    legends = {row["legend"] for data in spec["datasets"].values() for row in data if "legend" in row}
    expected = {f"{side} (ECE {s['ece']:.3f}, Brier {s['brier']:.3f})" for side, s in
                d.truth.calibration_scores.items()}
    assert legends == expected and len(expected) == 2


def test_shift_histogram_counts_every_paired_image():
    d = decision()
    histogram = tables.shift_histogram(d.paired)
    assert int(histogram["images"].sum()) == len(d.paired) == 60
    # 5 fixes raise the true class's probability by 0.7, 2 regressions lower it by 0.7.
    assert int(histogram.loc[histogram["lower"].between(0.6, 0.7), "images"].sum()) == 5
    assert int(histogram.loc[histogram["upper"].between(-0.7, -0.6), "images"].sum()) == 2


def test_flip_matrix_numbers_are_white_on_dark_cells_and_dark_on_light_ones():
    d = decision()   # diagonal 15/18/20 images (dark), flips 5 and 2 (light), empty cells 0
    spec = charts.flip_matrix_chart(tables.flip_cells(d.flip_matrix), d.a, d.b).to_dict()
    [text_layer] = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert text_layer["encoding"]["color"] == {"field": "ink", "type": "nominal", "scale": None, "legend": None}
    [rect_layer] = [layer for layer in spec["layer"] if layer["mark"]["type"] == "rect"]
    assert rect_layer["encoding"]["color"]["scale"] == {"scheme": "blues", "domain": [0, 20]}
    [values] = spec["datasets"].values()
    ink = {(v["a_class"], v["b_class"]): v["ink"] for v in values}
    assert ink == {("cat", "cat"): "#ffffff", ("dog", "dog"): "#ffffff", ("other", "other"): "#ffffff",
                   ("dog", "cat"): "#c62828", ("dog", "other"): "#c62828",
                   ("cat", "dog"): "#222222", ("cat", "other"): "#222222", ("other", "cat"): "#222222",
                   ("other", "dog"): "#222222"}


def test_text_ink_turns_white_from_half_the_largest_count():
    import pandas as pd
    counts, flips = pd.Series([0, 4, 5, 10]), pd.Series([True, True, True, False])
    assert charts.text_ink(counts, flips) == ["#222222", "#c62828", "#ffffff", "#ffffff"]
