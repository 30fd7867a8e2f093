"""The client at scale: `python -m client classify --concurrency N` against two pets replicas behind a real
HAProxy keeps both busy, and survives one replica killed mid-run (every input gets a row; a rerun with the same
--out fills the failed ones, one row per source)."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import requests

from pets import CLASS_NAMES
from tests.deploy.haproxy import HAPROXY, pets_replica, running_haproxy, server_stats
from tests.support import ROOT, wait_until

pytestmark = pytest.mark.slow
SIGNATURE_FILE = ROOT / "deploy" / "kubernetes" / "components" / "kserve" / "pets-signature.json"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


@pytest.fixture(scope="module")
def two_replicas_behind_haproxy():
    if not HAPROXY.exists():
        pytest.fail(f"{HAPROXY} is missing: apt-get install haproxy (make test provisions it)")
    with pets_replica() as (first, first_url), pets_replica() as (second, second_url):
        with running_haproxy([first_url, second_url]) as (url, stats):
            yield {"url": url, "stats": stats, "replicas": {"replica1": first, "replica2": second},
                   "replica_urls": [first_url, second_url]}


def photos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)


def classify_command(url: str, folder: Path, out: Path, version: int | None = 2) -> list[str]:
    # Version 2 is the slower model: a run lasts long enough to lose a replica in the middle of it.
    return [sys.executable, "-m", "client", "classify", str(folder), "--url", url,
            *(["--version", str(version)] if version else []),
            "--batch-size", "2", "--concurrency", "4", "--retries", "2", "--out", str(out), "--no-progress"]


def run_client(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))


def rows_by_source(out: Path) -> tuple[Counter, list[dict]]:
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return Counter(row["source"] for row in rows), rows


def answered(stats_socket: Path) -> dict[str, int]:
    return {name: int(row["hrsp_2xx"] or 0) for name, row in server_stats(stats_socket).items()}


def test_requests_are_spread_over_both_replicas(two_replicas_behind_haproxy, shared_images, tmp_path):
    setup = two_replicas_behind_haproxy
    before = answered(setup["stats"])
    out = tmp_path / "rows.csv"
    result = run_client(classify_command(setup["url"], shared_images, out))
    assert result.returncode == 0, result.stderr
    counts, rows = rows_by_source(out)
    assert len(counts) == len(photos_in(shared_images)) and set(counts.values()) == {1}
    assert [row["error"] for row in rows if row["error"]] == []
    after = answered(setup["stats"])
    served = {name: after[name] - before[name] for name in after}
    total = sum(served.values())
    assert total >= len(rows) // 2  # batches of 2 (plus the metadata lookups)
    # Round-robin: each replica answers about half; a quarter leaves room for health checks and timing.
    assert min(served.values()) >= total // 4, served


@pytest.mark.parametrize("route", [
    "predict-only",
    "kserve-transformer",  # GET /v1/models/pets answers KServe's {"name", "ready"}, not TF Serving's status
])
def test_a_route_without_metadata_classifies_with_the_signature_file_from_deploy(
        two_replicas_behind_haproxy, shared_images, tmp_path, route):
    """The KServe case: no status/metadata/labels on the route, only :predict. The signature file that
    components/kserve gives the dashboard makes the client classify exactly as with metadata."""
    replicas = two_replicas_behind_haproxy["replica_urls"]
    with running_haproxy(replicas, route=route) as (url, _):
        blocked = requests.get(f"{url}/v1/models/pets/metadata", timeout=5)
        assert (blocked.status_code, blocked.json()) == (404, {"detail": "Not Found"})
        configured = run_client([*classify_command(url, shared_images, tmp_path / "configured.csv", version=None),
                                 "--signature-config", str(SIGNATURE_FILE)])
        unconfigured = run_client(classify_command(url, shared_images, tmp_path / "unconfigured.csv", version=None))
    direct = run_client(classify_command(replicas[0], shared_images, tmp_path / "direct.csv", version=2))
    assert configured.returncode == 0 and direct.returncode == 0, configured.stderr + direct.stderr
    assert unconfigured.returncode == 3, unconfigured.stderr  # the signature is unusable without metadata
    _, rows = rows_by_source(tmp_path / "configured.csv")
    _, expected = rows_by_source(tmp_path / "direct.csv")  # latest = version 2, read with metadata
    assert [row["error"] for row in rows if row["error"]] == []
    assert {r["source"]: r["top_class"] for r in rows} == {r["source"]: r["top_class"] for r in expected}
    assert {r["top_class"] for r in rows} <= set(CLASS_NAMES)


def test_a_replica_killed_mid_run_costs_no_row_and_a_rerun_completes(two_replicas_behind_haproxy,
                                                                       shared_images, tmp_path):
    setup = two_replicas_behind_haproxy
    # 4 copies of the photos (symlinks under distinct folders): 200 sources, about 100 requests.
    folder = tmp_path / "photos"
    for copy in range(4):
        for photo in photos_in(shared_images):
            link = folder / f"copy{copy}" / photo.relative_to(shared_images)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(photo)
    sources = len(photos_in(folder))
    out = tmp_path / "rows.csv"
    command = classify_command(setup["url"], folder, out)
    start = sum(answered(setup["stats"]).values())
    client = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: sum(answered(setup["stats"]).values()) - start >= 10 or client.poll() is not None,
                   timeout=300, interval=0.02, what="10 answered requests")
        assert client.poll() is None, "the run ended before a replica could be killed"
        victim = setup["replicas"]["replica2"]
        victim.send_signal(signal.SIGKILL)  # a crash, not a graceful stop
        victim.wait(timeout=10)
        killed_at = sum(answered(setup["stats"]).values()) - start
        _, stderr = client.communicate(timeout=600)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, stderr
    assert killed_at < sources // 2, "the replica died after the run was practically over"
    counts, rows = rows_by_source(out)
    assert len(counts) == sources and set(counts.values()) == {1}  # every input has exactly one row
    failed = [row for row in rows if row["error"]]
    wait_until(lambda: server_stats(setup["stats"])["replica2"]["status"].startswith("DOWN"), timeout=10,
               what="haproxy to mark the killed replica DOWN")

    rerun = run_client(command)
    assert rerun.returncode == 0, rerun.stderr
    counts, rows = rows_by_source(out)
    assert len(counts) == sources and set(counts.values()) == {1}
    assert [row["source"] for row in rows if row["error"]] == []
    # How many rows the kill cost before the rerun (HAProxy's retries usually absorb it): shown with -rA.
    print(f"{len(failed)} of {sources} rows failed when the replica died after {killed_at} requests")


def test_rows_lost_with_every_replica_are_filled_by_a_rerun_once_a_replica_is_back(shared_images, tmp_path):
    if not HAPROXY.exists():
        pytest.fail(f"{HAPROXY} is missing: apt-get install haproxy (make test provisions it)")
    out = tmp_path / "rows.csv"
    with pets_replica() as (replica, replica_url), running_haproxy([replica_url]) as (url, stats):
        command = classify_command(url, shared_images, out)
        client = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: sum(answered(stats).values()) >= 5 or client.poll() is not None, timeout=300,
                       interval=0.02, what="5 answered requests")
            assert client.poll() is None, "the run ended before the replica could be killed"
            replica.send_signal(signal.SIGKILL)
            replica.wait(timeout=10)
            _, stderr = client.communicate(timeout=600)
        finally:
            if client.poll() is None:
                client.kill()
        assert client.returncode == 0, stderr  # some images were classified before the crash
        counts, rows = rows_by_source(out)
        failed = {row["source"] for row in rows if row["error"]}
        assert len(counts) == len(photos_in(shared_images)) and set(counts.values()) == {1}
        assert failed and {row["error_type"] for row in rows if row["error"]} <= {"ServerUnavailableError"}
        # The replica comes back on the same address; HAProxy's health check brings it back into rotation.
        with pets_replica(port=int(replica_url.rsplit(":", 1)[1])):
            wait_until(lambda: server_stats(stats)["replica1"]["status"] == "UP", timeout=30,
                       what="haproxy to see the replica UP again")
            rerun = run_client(command)
    assert rerun.returncode == 0, rerun.stderr
    counts, rows = rows_by_source(out)
    assert len(counts) == len(photos_in(shared_images)) and set(counts.values()) == {1}
    assert [row["source"] for row in rows if row["error"]] == []
    assert f"{len(counts) - len(failed)} sources already done" in rerun.stderr
