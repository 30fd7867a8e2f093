"""`python -m client` end to end, as subprocesses against the real embedded server."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from client import schema
from tests.support import ROOT, free_port

pytestmark = pytest.mark.slow
HEADER = schema.columns(["cat", "dog", "other"])


def run_cli(*args: str, url: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("TF_SERVING_URL", None)
    if url:
        env["TF_SERVING_URL"] = url
    return subprocess.run([sys.executable, "-m", "client", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def photo_zip(shared_images, tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("zips") / "batch.zip"
    photos = sorted((shared_images / "dog").glob("*"))[:5]
    with zipfile.ZipFile(archive, "w") as zf:
        for photo in photos:
            zf.write(photo, f"dogs/{photo.name}")
        zf.writestr("dogs/broken.jpg", b"\xff\xd8\xff not really a jpeg")
        zf.writestr("README.txt", b"not an image suffix: skipped")
    return archive


def test_status_and_metadata(pets_server_url):
    status = run_cli("status", url=pets_server_url)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines() == [
        "version  state        error_code error_message",
        "      1  AVAILABLE    OK         ",
        "      2  AVAILABLE    OK         ",
    ]
    metadata = run_cli("metadata", "--label", "canary", "--url", pets_server_url)
    assert metadata.returncode == 0, metadata.stderr
    assert "model pets version 2" in metadata.stdout
    assert "  in  images                   DT_FLOAT   [-1, 224, 224, 3]" in metadata.stdout


def test_classify_folder_to_csv_then_rerun_skips_all(pets_server_url, shared_images, tmp_path):
    out = tmp_path / "r.csv"
    first = run_cli("classify", str(shared_images), "--label", "canary", "--out", str(out), url=pets_server_url)
    assert first.returncode == 0, first.stderr
    assert "img/s" in first.stderr and "errors=0" in first.stderr  # the tqdm bar
    assert "classified 50, errors 0" in first.stderr
    assert (f"skipped 2: {shared_images}/SOURCES.md (not an image suffix: .md), {shared_images}/manifest.csv "
            "(not an image suffix: .csv)") in first.stderr
    rows = read_csv(out)
    assert list(rows[0]) == HEADER
    assert len(rows) == 50 and {(row["model"], row["target"], row["version"]) for row in rows} == {
        ("pets", "label:canary", "2")}
    assert all(row["error"] == "" and row["top_class"] in ("cat", "dog", "other") for row in rows)
    with open(shared_images / "manifest.csv", newline="") as handle:
        expected = {str(shared_images / row["file"]): row["label"] for row in csv.DictReader(handle)}
    assert {row["source"] for row in rows} == set(expected)
    assert sum(row["top_class"] == expected[row["source"]] for row in rows) >= 40

    again = run_cli("classify", str(shared_images), "--label", "canary", "--out", str(out), url=pets_server_url)
    assert again.returncode == 0, again.stderr
    assert "50 sources already done" in again.stderr and "nothing to classify (all already done)" in again.stderr
    assert len(read_csv(out)) == 50


def test_classify_zip_to_csv_jsonl_and_parquet(pets_server_url, photo_zip, tmp_path):
    for suffix in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"zip.{suffix}"
        done = run_cli("classify", str(photo_zip), "--version", "1", "--batch-size", "4", "--no-progress",
                       "--out", str(out), url=pets_server_url)
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip().endswith(f"classified 5, errors 1, written to {out}")
        if suffix == "csv":
            rows = read_csv(out)
        elif suffix == "jsonl":
            rows = [json.loads(line) for line in out.read_text().splitlines()]
        else:
            rows = pd.read_parquet(out).to_dict("records")
        assert sorted(r["source"] for r in rows) == sorted(
            [f"{photo_zip}/dogs/broken.jpg"] + [f"{photo_zip}/dogs/{p}" for p in sorted(
                n.split("/")[-1] for n in zipfile.ZipFile(photo_zip).namelist() if n.startswith("dogs/")
                and not n.endswith("broken.jpg"))])
        broken = next(r for r in rows if r["source"].endswith("broken.jpg"))
        assert broken["error_type"] == "ImageError"
        assert broken["error"].startswith(f"{photo_zip}/dogs/broken.jpg: ")
        rerun = run_cli("classify", str(photo_zip), "--version", "1", "--no-progress", "--out", str(out),
                        url=pets_server_url)
        assert rerun.returncode == 0 and "all already done" in rerun.stderr
    assert len(pd.read_parquet(tmp_path / "zip.parquet")) == 6


def test_resume_retries_rows_the_server_failed_and_keeps_one_row_per_source(pets_server_url, shared_images, tmp_path):
    cats = sorted((shared_images / "cat").glob("*"))[:3]
    out = tmp_path / "partial.csv"
    out.write_bytes(schema.to_csv_bytes([
        {"source": str(cats[0]), "top_class": "cat", "confidence": 0.9, "prob_cat": 0.9, "prob_dog": 0.05,
         "prob_other": 0.05, "model": "pets", "target": "label:stable", "version": 1, "latency_ms": 5.0},
        {"source": str(cats[1]), "model": "pets", "target": "label:stable", "error": "cannot reach the server",
         "error_type": "ServerUnavailableError"}], columns=HEADER))
    done = run_cli("classify", *map(str, cats), "--label", "stable", "--no-progress", "--out", str(out),
                   url=pets_server_url)
    assert done.returncode == 0, done.stderr
    rows = read_csv(out)
    assert [row["source"] for row in rows] == [str(cats[0]), str(cats[1]), str(cats[2])]
    assert rows[0]["latency_ms"] == "5"  # done before: kept as it was
    assert rows[1]["error"] == "" and rows[1]["version"] == "1" and rows[1]["top_class"] != ""


def test_truth_folders_on_the_shared_photos_prints_the_accuracy_of_the_rows(pets_server_url, shared_images,
                                                                            tmp_path):
    out = tmp_path / "truth.csv"
    done = run_cli("classify", str(shared_images), "--truth", "folders", "--version", "1", "--no-progress",
                   "--out", str(out), url=pets_server_url)
    assert done.returncode == 0, done.stderr
    rows = read_csv(out)
    assert all(row["ground_truth"] == Path(row["source"]).parent.name for row in rows)
    judged = [row for row in rows if row["correct"] != ""]
    right = sum(row["correct"] == "True" for row in judged)
    assert len(judged) == 50 and all((row["correct"] == "True") == (row["top_class"] == row["ground_truth"])
                                     for row in judged)
    lines = done.stderr.splitlines()
    assert "ground truth from folder names: 3 classes, 50 of 50 images" in lines
    assert lines[-1] == (f"classified 50, errors 0, accuracy {100 * right / 50:.1f}% ({right}/50 with ground "
                         f"truth), written to {out}")


def test_stdout_csv_without_out(pets_server_url, shared_images):
    cat = sorted((shared_images / "cat").glob("*"))[0]
    done = run_cli("classify", str(cat), "--no-progress", url=pets_server_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ",".join(HEADER)
    (row,) = csv.DictReader(lines)
    assert (row["source"], row["top_class"], row["model"], row["target"], row["version"], row["error"]) == (
        str(cat), "cat", "pets", "latest", "2", "")


def test_exit_codes(pets_server_url, tmp_path):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.jpg").write_bytes(b"nope")
    (junk / "b.png").write_bytes(b"")
    nothing = run_cli("classify", str(junk), "--no-progress", "--out", str(tmp_path / "j.csv"), url=pets_server_url)
    assert nothing.returncode == 1 and "classified 0, errors 2" in nothing.stderr
    assert len(read_csv(tmp_path / "j.csv")) == 2

    (tmp_path / "empty").mkdir()
    empty = run_cli("classify", str(tmp_path / "empty"), url=pets_server_url)
    assert empty.returncode == 1 and "nothing to classify: no images found" in empty.stderr
    missing = run_cli("classify", str(tmp_path / "missing.jpg"), "--no-progress", url=pets_server_url)
    assert missing.returncode == 1 and f"{tmp_path / 'missing.jpg'}: no such file or folder" in missing.stdout

    down = run_cli("classify", str(junk), "--retries", "0", url=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 3 and "ServerUnavailableError" in down.stderr

    label = run_cli("classify", str(junk), "--label", "nope", url=pets_server_url)
    assert label.returncode == 3
    assert "VersionNotAvailableError" in label.stderr and "Unrecognized servable version label: nope" in label.stderr

    usage = run_cli("classify", str(junk), "--out", str(tmp_path / "r.xlsx"), url=pets_server_url)
    assert usage.returncode == 2 and "unsupported output type '.xlsx'" in usage.stderr
    both = run_cli("classify", str(junk), "--version", "1", "--label", "stable")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
