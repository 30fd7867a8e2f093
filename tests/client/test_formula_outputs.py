"""Spreadsheet formulas in a truth file and in a model's class names (issue 21), through `python -m client classify
--out`: the CSV writes every formula as text (a leading apostrophe), JSON Lines and Parquet keep the exact values
(data formats no spreadsheet runs), and formula cells of a truth file that match no class are said to be unmatched
and reach no file."""
from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from client.cli import main
from tests.client.conftest import fake_model_handler, json_response, png_bytes

FORMULAS = ('=HYPERLINK("http://127.0.0.1:9/x","y")', "@SUM(1+1)", "+dog", "-1+1")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
RED = (250, 5, 5)


def images(tmp_path, count: int = 4):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(count):
        (folder / f"{i}.png").write_bytes(png_bytes(RED))
    return folder


def truth_csv(tmp_path, labels) -> str:
    path = tmp_path / "truth.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows([f"{i}.png", label] for i, label in enumerate(labels))
    return str(path)


def rows_of(path) -> list[dict]:
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        return frame.astype(object).where(frame.notna(), None).to_dict("records")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def assert_no_formula_cell(path) -> None:
    for record in csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")):
        for cell in record:
            assert not cell.startswith(FORMULA_STARTS), cell


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_formula_cells_of_a_truth_file_are_unmatched_values_and_reach_no_file(fake_server, tmp_path, capsys, suffix):
    server = fake_server(fake_model_handler())
    out = tmp_path / f"o.{suffix}"
    assert main(["classify", str(images(tmp_path)), "--truth", truth_csv(tmp_path, FORMULAS), "--url", server.url,
                 "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert ("ground truth from truth.csv: 0 classes, 0 of 4 images; 4 without a class: "
            "'=HYPERLINK(\"http://127.0.0.1:9/x\",\"y\")' (1), '@SUM(1+1)' (1), '+dog' (1), '-1+1' (1)") in err
    rows = rows_of(out)
    assert [row["top_class"] for row in rows] == ["cat"] * 4
    assert [row["ground_truth"] in (None, "") for row in rows] == [True] * 4
    if suffix == "csv":
        assert_no_formula_cell(out)


def formula_model(fake_server, classes):
    def predict(request):
        count = len(json.loads(request.get_data())["instances"])
        return json_response({"predictions": [{"probabilities": [0.8, 0.1, 0.1], "classes": list(classes)}] * count})
    return fake_server(fake_model_handler(predict=predict))


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_formula_class_names_and_truth_are_text_in_csv_and_exact_in_data_files(fake_server, tmp_path, capsys, suffix):
    classes = FORMULAS[:3]
    server = formula_model(fake_server, classes)
    labels = [classes[i % 3] for i in range(4)]
    out = tmp_path / f"o.{suffix}"
    assert main(["classify", str(images(tmp_path)), "--truth", truth_csv(tmp_path, labels), "--url", server.url,
                 "--no-progress", "--out", str(out)]) == 0
    assert capsys.readouterr().err.strip().endswith(f"accuracy 50.0% (2/4 with ground truth), written to {out}")
    rows = rows_of(out)
    if suffix == "csv":
        assert_no_formula_cell(out)
        assert [row["top_class"] for row in rows] == ["'" + classes[0]] * 4
        assert [row["ground_truth"] for row in rows] == ["'" + label for label in labels]
        assert list(rows[0])[3:6] == [f"prob_{name}" for name in classes]
    else:
        assert [row["top_class"] for row in rows] == [classes[0]] * 4
        assert [row["ground_truth"] for row in rows] == labels
