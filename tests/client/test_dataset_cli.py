"""`python -m client dataset …` and `classify --dataset`, in-process against a fake TF Serving, on a SQLite file and
a live PostgreSQL (SERVESCOPE_DB), with the images in a local folder (SERVESCOPE_BLOBS); and once as a subprocess
with the images on S3 (moto). A run on a dataset is stored with the dataset version it used, as History lists it."""
from __future__ import annotations

import csv
import os
import re
import subprocess
import sys

import pytest

from client import schema
from client.cli import main
from client.profile import DEFAULT_PROFILE
from client.store import Datasets, open_image_store, open_store
from client.store.blobs import blob_key
from client.store.images import sha256_of
from tests.client.store.s3 import running_s3
from tests.support import ROOT, fake_model_handler, free_port, json_response, png_bytes

RED, GREEN, BLUE = png_bytes((250, 5, 5)), png_bytes((5, 250, 5)), png_bytes((5, 5, 250))


@pytest.fixture
def stores(any_store, tmp_path, monkeypatch):
    """SERVESCOPE_DB at `any_store` (SQLite, PostgreSQL), SERVESCOPE_BLOBS at a local folder; yields a Datasets on
    them for the test's own checks."""
    monkeypatch.setenv("SERVESCOPE_DB", any_store.url)
    monkeypatch.setenv("SERVESCOPE_BLOBS", str(tmp_path / "blobs"))
    monkeypatch.delenv("SERVESCOPE_BLOBS_QUOTA_MB", raising=False)
    return Datasets(any_store, open_image_store(any_store, tmp_path / "blobs", quota_bytes=None))


@pytest.fixture
def audit(tmp_path):
    folder = tmp_path / "audit"
    for name, data in {"cat/red.png": RED, "cat/blue.png": BLUE, "other/blue2.png": BLUE, "dog/green.png": GREEN}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_create_list_versions_export_and_delete(stores, audit, tmp_path, capsys):
    assert main(["dataset", "create", "march <audit>", str(audit), "--truth", "folders"]) == 0
    assert lines(capsys.readouterr().out) == [
        "created dataset 'march <audit>': 4 image(s), truth for 4; 3 stored (0.0 MB), 1 already in the image store",
        "  truth for 4 of 4 image(s), 3 label(s)"]
    assert main(["dataset", "create", "march <audit>", str(audit)]) == 2
    assert capsys.readouterr().err == ("error: a dataset named 'march <audit>' exists (version 1); ask for a new "
                                       "version (--new-version) to make version 2 of it, or choose another name\n")
    assert main(["dataset", "create", "march <audit>", str(audit / "cat"), "--new-version", "--truth", "names"]) == 0
    capsys.readouterr()
    assert main(["dataset", "list"]) == 0
    assert lines(capsys.readouterr().out) == [
        "name           version  images  truth  classes with truth  runs",
        "march <audit>  2        2       2/2    blue 1, red 1       0"]
    assert main(["dataset", "versions", "march <audit>"]) == 0
    first, second = lines(capsys.readouterr().out)
    assert re.fullmatch(r"   1  \d{4}-\d\d-\d\d \d\d:\d\d        4 image\(s\)  truth 4  created from 4 image\(s\)", first)
    assert re.fullmatch(r"   2  \d{4}-\d\d-\d\d \d\d:\d\d        2 image\(s\)  truth 2  replaced by 2 image\(s\)", second)
    out = tmp_path / "v1.csv"
    assert main(["dataset", "export", "march <audit>@1", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"exported dataset march <audit>@1: 4 image(s) to {out}\n"
    with open(out, newline="") as handle:
        exported = [(row["position"], row["source"], row["truth"], row["sha256"]) for row in csv.DictReader(handle)]
    assert exported == [("0", f"{audit}/cat/blue.png", "cat", sha256_of(BLUE)),
                        ("1", f"{audit}/cat/red.png", "cat", sha256_of(RED)),
                        ("2", f"{audit}/dog/green.png", "dog", sha256_of(GREEN)),
                        ("3", f"{audit}/other/blue2.png", "other", sha256_of(BLUE))]
    assert main(["dataset", "export", "march <audit>", "--out", str(tmp_path / "v.xlsx")]) == 2
    assert capsys.readouterr().err == (f"error: --out {tmp_path / 'v.xlsx'}: the file name must end in .csv, .jsonl, "
                                       ".parquet\n")
    assert main(["dataset", "delete", "march <audit>"]) == 0
    assert capsys.readouterr().out == ("deleted dataset 'march <audit>' (2 version(s)); 3 image(s) no other dataset or "
                                       "run used were deleted from the image store\n")
    assert main(["dataset", "list"]) == 0
    assert capsys.readouterr().out == "no datasets\n"
    assert stores.images.usage().images == 0


def test_a_truth_file_and_an_unreadable_one(stores, audit, tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nred.png,Cats\nblue2.png,other\n")
    assert main(["dataset", "create", "audit", str(audit), "--truth", str(labels)]) == 0
    assert [(i.source.rsplit("/", 1)[1], i.truth) for i in stores.items(stores.get("audit"))] == [
        ("blue.png", None), ("red.png", "Cats"), ("green.png", None), ("blue2.png", "other")]
    capsys.readouterr()
    assert main(["dataset", "create", "other", str(audit), "--truth", str(tmp_path / "missing.csv")]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'missing.csv'}: no such file (or use one of folders, names, "
                                       "none)\n")


def test_a_run_on_a_dataset_is_stored_with_the_version_it_used(stores, audit, fake_server, tmp_path, capsys):
    server = fake_server(fake_model_handler(version=3))
    assert main(["dataset", "create", "audit", str(audit), "--truth", "folders"]) == 0
    out = tmp_path / "out.csv"
    assert main(["classify", "--dataset", "audit", "--url", server.url, "--no-progress", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    [summary] = stores.store.list_runs()
    run = summary.run
    assert lines(err)[-3:] == [
        "ground truth from dataset audit@1: 3 classes, 4 of 4 images",
        f"classified 4, errors 0, accuracy 75.0% (3/4 with ground truth), written to {out}",
        f"stored as run {run.id} on dataset audit@1 (complete)"]
    assert (run.kind, run.status, run.model, run.target, run.version, run.total, run.done, run.errors) == (
        "classify", "complete", "pets", "latest", 3, 4, 4, 0)
    assert (run.dataset_name, run.dataset_version, run.dataset_id, run.class_names) == (
        "audit", 1, stores.get("audit").dataset_id, ("cat", "dog", "other"))
    assert (summary.truth_known, summary.correct) == (4, 3)
    # The profile it used (none given: the default, which an encoded-image model does not need) is stored with it.
    assert (run.profile.digest, run.profile.origin, run.profile.assumed) == (
        DEFAULT_PROFILE.digest, "no profile (the default)", False)
    stored = stores.store.run_rows(run.id)
    assert set(stored["profile"]) == {DEFAULT_PROFILE.digest}
    assert list(zip(stored["source"].str.rsplit("/", n=1).str[1], stored["top_class"], stored["ground_truth"])) == [
        ("blue.png", "other", "cat"), ("red.png", "cat", "cat"), ("green.png", "dog", "dog"),
        ("blue2.png", "other", "other")]
    with open(out, newline="") as handle:
        assert [row["ground_truth"] for row in csv.DictReader(handle)] == ["cat", "cat", "dog", "other"]
    # A newer version does not change which version a run names.
    assert main(["dataset", "add", "audit", str(audit / "cat"), "--truth", "folders"]) == 0
    assert main(["classify", "--dataset", "audit@1", "--url", server.url, "--no-progress"]) == 0
    assert main(["classify", "--dataset", "audit", "--url", server.url, "--no-progress"]) == 0
    assert [s.run.dataset_version for s in stores.store.list_runs()] == [2, 1, 1]
    assert [s.runs for s in stores.summaries()] == [3]


def test_a_lost_image_is_its_own_error_row_and_the_rest_is_classified(stores, audit, fake_server, tmp_path, capsys):
    server = fake_server(fake_model_handler())
    assert main(["dataset", "create", "audit", str(audit), "--truth", "folders"]) == 0
    stores.images.backend.delete([blob_key(sha256_of(GREEN))])
    capsys.readouterr()
    assert main(["classify", "--dataset", "audit", "--url", server.url, "--no-progress"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(captured.out.splitlines()))
    green = f"{audit}/dog/green.png"
    assert [(row["source"], row["error_type"]) for row in rows] == [
        (f"{audit}/cat/blue.png", ""), (f"{audit}/cat/red.png", ""), (green, "MissingImageError"),
        (f"{audit}/other/blue2.png", "")]
    assert rows[2]["error"] == f"{green}: its image (sha256 {sha256_of(GREEN)[:12]}…) is missing from the image store"
    assert (f"1 image(s) could not be read from the image store (their rows say why): {green}"
            in lines(captured.err))
    run = stores.store.list_runs()[0].run
    assert (run.status, run.done, run.errors) == ("complete", 4, 1)


def test_a_dataset_deleted_during_a_run_leaves_the_run_finished_on_what_it_read(stores, audit, fake_server, capsys):
    deleted = []
    answer = fake_model_handler()

    def delete_then_answer(request):
        if request.method == "POST" and not deleted:
            deleted.append(stores.delete("audit"))
        return answer(request)
    server = fake_server(delete_then_answer)
    assert main(["dataset", "create", "audit", str(audit), "--truth", "folders"]) == 0
    dataset_id = stores.get("audit").dataset_id
    capsys.readouterr()
    assert main(["classify", "--dataset", "audit", "--url", server.url, "--no-progress", "--batch-size", "1",
                 "--concurrency", "1"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [row["error_type"] for row in rows] == ["", "MissingImageError", "MissingImageError", "MissingImageError"]
    assert deleted[0].images_deleted == 3
    run = stores.store.list_runs()[0].run
    assert (run.status, run.done, run.errors, run.dataset_name, run.dataset_id) == ("complete", 4, 3, "audit",
                                                                                   dataset_id)
    assert stores.find(dataset_id) is None      # History: the dataset is gone


@pytest.mark.parametrize("arguments, message", [
    (["classify", "x.jpg", "--dataset", "audit"], "give PATHs or --dataset, not both"),
    (["classify"], "classify needs PATHs, or --dataset NAME"),
    (["classify", "--dataset", "audit", "--truth", "folders"], "--dataset brings its own truth; leave out --truth"),
    (["classify", "--dataset", "nope"], "--dataset no dataset named 'nope'"),
    (["classify", "--dataset", "audit@9"], "--dataset dataset 'audit' has no version 9")])
def test_classify_refuses_what_it_cannot_run(stores, audit, capsys, arguments, message):
    assert main(["dataset", "create", "audit", str(audit)]) == 0
    capsys.readouterr()
    assert main([*arguments, "--url", "http://127.0.0.1:1"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert stores.store.list_runs() == []


def test_a_dataset_run_refuses_an_out_file_with_rows(stores, audit, tmp_path, capsys):
    assert main(["dataset", "create", "audit", str(audit)]) == 0
    out = tmp_path / "o.csv"
    out.write_text(",".join(schema.columns(["cat"])) + "\n" + "x.jpg" + "," * (len(schema.columns(["cat"])) - 1) + "\n")
    assert main(["classify", "--dataset", "audit", "--out", str(out), "--url", "http://127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.endswith(f"error: --out {out} already has rows: a run on a dataset is stored "
                                            "whole, so write to a new file (or delete it)\n")


def test_a_full_image_store_stores_nothing_and_exits_4(stores, audit, monkeypatch, capsys):
    monkeypatch.setenv("SERVESCOPE_BLOBS_QUOTA_MB", "0.0001")   # 100 bytes: one test image fits
    assert main(["dataset", "create", "audit", str(audit)]) == 4
    assert capsys.readouterr().err.startswith("error: the image store is full: ")
    assert (stores.summaries(), stores.images.usage().images) == ([], 0)


def test_an_unreachable_run_store_exits_4(monkeypatch, capsys):
    monkeypatch.setenv("SERVESCOPE_DB", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    assert main(["dataset", "list"]) == 4
    assert capsys.readouterr().err.startswith("error: cannot open the run store: ")


@pytest.mark.slow
def test_the_command_line_on_an_s3_image_store(tmp_path, audit, fake_server):
    """The real entry point, configured only by environment: SERVESCOPE_DB, SERVESCOPE_BLOBS=s3://…, AWS_*."""
    server = fake_server(fake_model_handler(
        predict=lambda request: json_response({"predictions": [{"probabilities": [0.1, 0.8, 0.1],
                                                                "classes": ["cat", "dog", "other"]}]})))
    with running_s3(bucket="team-images") as s3:
        env = dict(os.environ, SERVESCOPE_DB=str(tmp_path / "team.db"), SERVESCOPE_BLOBS="s3://team-images/servescope",
                   TF_SERVING_URL=server.url, **s3.environment)

        def cli(*arguments: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "client", *arguments], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=120)
        created = cli("dataset", "create", "audit", str(audit / "dog"), "--truth", "folders")
        assert created.returncode == 0, created.stderr
        classified = cli("classify", "--dataset", "audit", "--no-progress", "--batch-size", "1")
        assert classified.returncode == 0, classified.stderr
        assert "accuracy 100.0% (1/1 with ground truth)" in classified.stderr
        store = open_store(tmp_path / "team.db")
        [summary] = store.list_runs()
        assert (summary.run.dataset_name, summary.run.dataset_version, summary.correct) == ("audit", 1, 1)
        import boto3
        listed = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.environment["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=s3.environment["AWS_SECRET_ACCESS_KEY"],
                              region_name="us-east-1").list_objects_v2(Bucket="team-images")
        assert [item["Key"] for item in listed["Contents"]] == [f"servescope/{blob_key(sha256_of(GREEN))}"]
        store.close()
