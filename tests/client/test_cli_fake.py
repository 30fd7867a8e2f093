"""The CLI in-process against a fake server: works without tqdm, and reports per-file errors as rows."""
from __future__ import annotations

import csv
import sys

from client.cli import main
from tests.client.conftest import fake_model_handler, png_bytes


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
        rows = [(r["source"].rsplit("/", 1)[1], r["label"], r["version"], r["error_type"])
                for r in csv.DictReader(handle)]
    assert rows == [("bad.jpg", "", "7", "ImageError"), ("blue.png", "other", "7", ""), ("red.png", "cat", "7", "")]
