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
