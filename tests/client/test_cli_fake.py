"""The CLI in-process against a fake server: works without tqdm, reports per-file errors as rows, resumes without
duplicates, neutralises formulas, fills ground truth, and keeps a row for every input."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from client.cli import main
from client.outputs import ResultWriter
from client.resume import read_rows
from tests.client.conftest import fake_model_handler, json_response, png_bytes


def test_classify_without_tqdm_installed(fake_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # importing tqdm now raises ImportError
    server = fake_server(fake_model_handler(version=7))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "red.png").write_bytes(png_bytes((250, 5, 5)))
    (tmp_path / "in" / "blue.png").write_bytes(png_bytes((5, 5, 250)))
    (tmp_path / "in" / "bad.jpg").write_bytes(b"junk")
    out = tmp_path / "out.csv"
    assert main(["classify", str(tmp_path / "in"), "--url", server.url, "--out", str(out)]) == 0
    assert "(install tqdm for a progress bar)" in capsys.readouterr().err
    with open(out, newline="") as handle:
        rows = [(r["source"].rsplit("/", 1)[1], r["top_class"], r["model"], r["target"], r["version"], r["error_type"])
                for r in csv.DictReader(handle)]
    assert rows == [("bad.jpg", "", "pets", "latest", "7", "ImageError"),
                    ("blue.png", "other", "pets", "latest", "7", ""), ("red.png", "cat", "pets", "latest", "7", "")]


def photo_folder(tmp_path, bad: int = 1):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        (folder / f"{i}.png").write_bytes(png_bytes((250, 5, 5)))
    for i in range(bad):
        (folder / f"bad{i}.jpg").write_bytes(b"junk")
    return folder


def test_progress_bar_shows_images_per_second_and_errors(fake_server, tmp_path, capsys):
    server = fake_server(fake_model_handler())
    assert main(["classify", str(photo_folder(tmp_path)), "--url", server.url, "--out", str(tmp_path / "o.csv")]) == 0
    err = capsys.readouterr().err
    assert "img/s" in err and "errors=1" in err and "5/5" in err
    assert err.strip().endswith(f"classified 4, errors 1, written to {tmp_path / 'o.csv'}")


def test_every_image_failing_on_the_server_exits_3_and_rows_are_kept(fake_server, tmp_path, capsys):
    server = fake_server(fake_model_handler(predict=lambda request: json_response({"error": "Internal"}, 500)))
    out = tmp_path / "o.jsonl"
    code = main(["classify", str(photo_folder(tmp_path, bad=0)), "--url", server.url, "--retries", "0",
                 "--no-progress", "--out", str(out)])
    assert code == 3
    assert "error: the server failed every request" in capsys.readouterr().err
    assert [json.loads(line)["error_type"] for line in out.read_text().splitlines()] == ["ServerUnavailableError"] * 4


def test_only_bad_files_exits_1(fake_server, tmp_path, capsys):
    server = fake_server(fake_model_handler())
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"junk")
    assert main(["classify", str(folder), "--url", server.url, "--no-progress", "--out", str(tmp_path / "o.csv")]) == 1
    assert "classified 0, errors 1" in capsys.readouterr().err


@pytest.mark.parametrize("out, message", [
    ("missing/o.csv", "folder {tmp}/missing does not exist"),
    ("notes.csv", "notes.csv exists but is not a results file"),
    ("o.txt", "unsupported output type '.txt'"),
])
def test_unusable_out_is_a_usage_error_before_any_request(fake_server, tmp_path, capsys, out, message):
    server = fake_server(fake_model_handler())
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    code = main(["classify", str(photo_folder(tmp_path)), "--url", server.url, "--out", str(tmp_path / out)])
    assert code == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert server.calls == [] and (tmp_path / "notes.csv").read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_interrupt_keeps_finished_rows_and_the_rerun_completes(fake_server, tmp_path, capsys, monkeypatch, suffix):
    server = fake_server(fake_model_handler())
    folder = photo_folder(tmp_path)
    out = tmp_path / f"o.{suffix}"
    real_write = ResultWriter.write

    def write_two_then_interrupt(self, result):
        if self.written == 2:
            raise KeyboardInterrupt
        self.written += 1
        real_write(self, result)

    monkeypatch.setattr(ResultWriter, "written", 0, raising=False)
    monkeypatch.setattr(ResultWriter, "write", write_two_then_interrupt)
    args = ["classify", str(folder), "--url", server.url, "--no-progress", "--batch-size", "2", "--out", str(out)]
    assert main(args) == 130
    assert f"interrupted; rerun with --out {out} to resume" in capsys.readouterr().err
    assert len(read_rows(out)) == 2
    monkeypatch.setattr(ResultWriter, "write", real_write)
    assert main(args) == 0
    assert "resuming" in capsys.readouterr().err
    rows = read_rows(out)
    assert sorted(Path(str(r["source"])).name for r in rows) == ["0.png", "1.png", "2.png", "3.png", "bad0.jpg"]


RED, GREEN, BLUE = (250, 5, 5), (5, 250, 5), (5, 5, 250)  # the fake model says cat, dog, other


def failing_after(images: int):
    """A predict that answers the first `images` images, then 503 for every later request."""
    handler = fake_model_handler()
    answered = {"images": 0}

    def predict(request):
        count = len(json.loads(request.get_data())["instances"])
        if answered["images"] + count > images:
            return json_response({"error": "overloaded"}, 503)
        answered["images"] += count
        return handler(request)
    return predict


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_a_server_failing_part_way_then_a_resume_leaves_one_row_per_source(fake_server, tmp_path, capsys, suffix):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(10):
        (folder / f"{i}.png").write_bytes(png_bytes(RED))
    (folder / "bad.jpg").write_bytes(b"junk")
    out = tmp_path / f"o.{suffix}"
    flaky = fake_server(fake_model_handler(predict=failing_after(4)))
    args = ["classify", str(folder), "--no-progress", "--batch-size", "2", "--concurrency", "1", "--retries", "0",
            "--out", str(out)]
    assert main([*args, "--url", flaky.url]) == 0
    first = read_rows(out)
    assert len(first) == 11 and sum(r["error_type"] == "ServerUnavailableError" for r in first) == 6
    healthy = fake_server(fake_model_handler())
    assert main([*args, "--url", healthy.url]) == 0
    assert "resuming" in capsys.readouterr().err
    rows = read_rows(out)
    assert sorted(Path(str(r["source"])).name for r in rows) == sorted([f"{i}.png" for i in range(10)] + ["bad.jpg"])
    assert [r["error_type"] or None for r in rows].count(None) == 10  # the latest outcome of each
    assert len(healthy.bodies) == 3  # only the 6 failed images were sent again (batches of 2)


def test_a_relative_formula_name_is_written_with_an_apostrophe(fake_server, tmp_path, monkeypatch, capsys):
    server = fake_server(fake_model_handler())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "@SUM(1+1)dog.png").write_bytes(png_bytes(GREEN))
    assert main(["classify", "@SUM(1+1)dog.png", "--url", server.url, "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("'@SUM(1+1)dog.png,dog,")  # a spreadsheet shows it as text, runs nothing


def labelled_folder(tmp_path: Path) -> Path:
    root = tmp_path / "pets"
    for folder, colours in {"cats": [RED, RED], "Dog": [GREEN, GREEN], "other": [BLUE, RED], "misc": [BLUE]}.items():
        (root / folder).mkdir(parents=True)
        for i, colour in enumerate(colours):
            (root / folder / f"{i}.png").write_bytes(png_bytes(colour))
    return root


def test_truth_from_folders_fills_ground_truth_and_correct_and_prints_accuracy(fake_server, tmp_path, capsys):
    server = fake_server(fake_model_handler())
    out = tmp_path / "o.csv"
    assert main(["classify", str(labelled_folder(tmp_path)), "--truth", "folders", "--url", server.url,
                 "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "ground truth from folder names: 3 classes, 6 of 7 images; 1 without a class: 'misc' (1)" in err
    assert err[-1] == f"classified 7, errors 0, accuracy 83.3% (5/6 with ground truth), written to {out}"
    assert main(["classify", str(tmp_path / "pets"), "--truth", "folders", "--url", server.url, "--out",
                 str(out)]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"nothing to classify (all already done); in {out}: accuracy 83.3% (5/6 with ground truth)")
    with open(out, newline="") as handle:
        rows = {r["source"].split("pets/")[1]: (r["ground_truth"], r["top_class"], r["correct"])
                for r in csv.DictReader(handle)}
    assert rows == {"Dog/0.png": ("dog", "dog", "True"), "Dog/1.png": ("dog", "dog", "True"),
                    "cats/0.png": ("cat", "cat", "True"), "cats/1.png": ("cat", "cat", "True"),
                    "misc/0.png": ("", "other", ""), "other/0.png": ("other", "other", "True"),
                    "other/1.png": ("other", "cat", "False")}


def test_truth_from_a_csv_file_and_an_unreadable_one(fake_server, tmp_path, capsys):
    server = fake_server(fake_model_handler())
    root = labelled_folder(tmp_path)
    truth = tmp_path / "truth.csv"
    truth.write_text("file,label\nmisc/0.png,Others\nother/1.png,cat\n")
    assert main(["classify", str(root), "--truth", str(truth), "--url", server.url, "--no-progress"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "ground truth from truth.csv: 2 classes, 2 of 7 images" in err
    assert err[-1] == "classified 7, errors 0, accuracy 100.0% (2/2 with ground truth)"
    truth.write_text("a,b\n")
    assert main(["classify", str(root), "--truth", str(truth), "--url", server.url]) == 2
    assert f"error: --truth {truth}: the header needs a source column" in capsys.readouterr().err
    assert main(["classify", str(root), "--truth", "folder", "--url", server.url]) == 2
    assert "error: --truth folder: no such file (or use one of auto, folders, names, none)" in capsys.readouterr().err
    assert [c for c in server.calls if c[0] == "POST"] == [("POST", "/v1/models/pets/versions/1:predict")]


def test_a_bad_archive_is_its_own_row_skipped_members_are_listed_and_the_rest_classified(fake_server, tmp_path,
                                                                                          capsys):
    from tests.client.test_archives import bad_utf8_name_zip, zip_bytes
    server = fake_server(fake_model_handler())
    (tmp_path / "bad.zip").write_bytes(bad_utf8_name_zip())
    (tmp_path / "a.zip").write_bytes(zip_bytes({"cat.png": png_bytes(RED), ".DS_Store": b"x", "__MACOSX/._cat.png": b"x",
                                                "../up.png": png_bytes(RED), "inner.zip": zip_bytes({
                                                    "dog.png": png_bytes(GREEN)})}))
    (tmp_path / "red.png").write_bytes(png_bytes(RED))
    out = tmp_path / "o.jsonl"
    paths = [str(tmp_path / name) for name in ("bad.zip", "a.zip", "red.png")]
    assert main(["classify", *paths, "--url", server.url, "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    a = tmp_path / "a.zip"
    assert (f"skipped 3: {a}/../up.png (path leaves the archive), {a}/.DS_Store (hidden file), "
            f"{a}/__MACOSX/._cat.png (macOS metadata)") in err
    assert err.strip().endswith(f"classified 3, errors 1, written to {out}")
    rows = {r["source"]: (r["top_class"], r["error_type"]) for r in read_rows(out)}
    assert rows == {paths[0]: (None, "OSError"), f"{a}/cat.png": ("cat", None), f"{a}/inner.zip/dog.png": ("dog", None),
                    paths[2]: ("cat", None)}


def test_a_version_unloaded_mid_run_still_leaves_a_row_for_every_input(fake_server, tmp_path, capsys):
    handler = fake_model_handler()
    answered = {"images": 0}

    def predict(request):
        count = len(json.loads(request.get_data())["instances"])
        if answered["images"] >= 4:
            return json_response({"error": "Servable not found for request: Specific(pets, 1)"}, 404)
        answered["images"] += count
        return handler(request)
    server = fake_server(fake_model_handler(predict=predict))
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        (folder / f"{i:02d}.png").write_bytes(png_bytes(RED))
    out = tmp_path / "o.csv"
    args = ["classify", str(folder), "--version", "1", "--batch-size", "2", "--concurrency", "1", "--no-progress",
            "--out", str(out)]
    assert main([*args, "--url", server.url]) == 3
    err = capsys.readouterr().err
    assert "error: the model or version went away during the run: 8 inputs not classified" in err
    rows = read_rows(out)
    assert len(rows) == 12 and [r["error_type"] or None for r in rows].count(None) == 4
    assert {r["error_type"] for r in rows[4:]} == {"VersionNotAvailableError"}
    assert all(r["error"].startswith(r["source"] + ": ") for r in rows[4:])
    healthy = fake_server(fake_model_handler())
    assert main([*args, "--url", healthy.url]) == 0  # the resume retries exactly those
    assert len(read_rows(out)) == 12 and all(not r["error_type"] for r in read_rows(out))
    assert sum(len(body["instances"]) for body in healthy.bodies) == 8


def test_a_client_that_raises_part_way_still_leaves_a_row_for_every_input(fake_server, tmp_path, capsys,
                                                                          monkeypatch):
    """Whatever the client does when the target goes away (rows or an exception), every input gets a row."""
    from client.core import TFServingClient
    from client.errors import VersionNotAvailableError
    server = fake_server(fake_model_handler())
    real = TFServingClient.iter_classify

    def two_then_raise(self, images, **kwargs):
        for number, result in enumerate(real(self, images, **kwargs)):
            if number == 2:
                raise VersionNotAvailableError("Servable not found", method="POST", url=server.url, status=404)
            yield result
    monkeypatch.setattr(TFServingClient, "iter_classify", two_then_raise)
    out = tmp_path / "o.csv"
    assert main(["classify", str(photo_folder(tmp_path, bad=2)), "--url", server.url, "--no-progress", "--out",
                 str(out)]) == 3
    assert "error: the model or version went away during the run: 4 inputs not classified" in capsys.readouterr().err
    rows = read_rows(out)
    assert [Path(r["source"]).name for r in rows] == ["0.png", "1.png", "2.png", "3.png", "bad0.jpg", "bad1.jpg"]
    assert [r["error_type"] for r in rows] == ["", "", *["VersionNotAvailableError"] * 4]
    assert rows[2]["error"].startswith(f"{rows[2]['source']}: not classified: POST ")
