"""Run leases (dashboard.runs.leases, Store.renew_leases/interrupt_expired_leases): the process running a run renews
its lease; any dashboard interrupts a run whose lease expired, its rows kept. The end-to-end case runs two
RunManager processes on one real PostgreSQL against a fake TF Serving and kills one with SIGKILL mid-run."""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Iterator

import pytest
from sqlalchemy import update

from dashboard.runs.leases import LEASE_LOST
from dashboard.runs.manager import RunManager
from client.store.database import open_store
from client.store.tables import runs
from tests.dashboard.runs.test_runner import COLOURS, FakeModel, items_of, png
from tests.support import ROOT, FakeServer, fake_metadata, fake_prediction, fake_status, json_response, wait_until

EXPIRY_S = 1.5   # the replicas' lease (renewed every 0.2 s)
LEASE_EXPIRED = "the dashboard running it stopped (its lease expired) with {done} of {total} done"


def new_run(store, *, lease_s, owner=None, status="running"):
    run = store.create_run(kind="classify", url="http://127.0.0.1:1", model="pets", target="latest", total=4,
                           lease_s=lease_s, owner=owner)
    if status == "running":
        store.update_progress(run.id, status="running")
    return run


def row(position):
    return {"position": position, "source": f"{position}.png", "top_class": "cat", "confidence": 0.9}


def test_only_runs_whose_lease_expired_are_interrupted_with_their_rows(any_store):
    store = any_store
    expired = new_run(store, lease_s=-1.0, owner="another-host:1:1")      # its process stopped renewing it
    store.add_rows(expired.id, [row(0), row(1)])
    expired_queued = new_run(store, lease_s=-1.0, owner="another-host:1:1", status="queued")
    live = new_run(store, lease_s=60.0, owner="another-host:2:2")
    unleased = new_run(store, lease_s=None, owner="another-host:3:3")    # an app older than leases
    settled = store.interrupt_expired_leases()
    assert sorted(r.id for r in settled) == sorted([expired.id, expired_queued.id])
    again = store.get_run(expired.id)
    assert (again.status, again.done, again.error) == ("interrupted", 2, LEASE_EXPIRED.format(done=2, total=4))
    assert store.run_rows(expired.id)["source"].tolist() == ["0.png", "1.png"]
    assert store.get_run(expired_queued.id).error == LEASE_EXPIRED.format(done=0, total=4)
    assert store.get_run(live.id).status == "running" and store.get_run(unleased.id).status == "running"
    assert store.interrupt_expired_leases() == []


def test_renewing_extends_only_this_owners_unfinished_runs(any_store):
    store = any_store
    mine, finished = new_run(store, lease_s=1.0, owner="me:1:1"), new_run(store, lease_s=1.0, owner="me:1:1")
    theirs = new_run(store, lease_s=1.0, owner="them:1:1")
    store.finish_run(finished.id, "complete")
    before = store.get_run(mine.id).lease_expires_at
    renewed = store.renew_leases([mine.id, finished.id, theirs.id], lease_s=600.0, owner="me:1:1")
    assert renewed == {mine.id}
    assert (store.get_run(mine.id).lease_expires_at - before).total_seconds() > 500
    assert store.get_run(theirs.id).lease_expires_at < store.get_run(mine.id).lease_expires_at


@pytest.fixture
def held() -> Iterator[tuple[FakeModel, FakeServer]]:
    model = FakeModel()
    model.gate = threading.Semaphore(2)   # two batches of two, then the requests wait
    server = FakeServer(model)
    server.start()
    yield model, server
    model.gate.release(1000)
    server.stop()


def test_a_run_settled_by_another_dashboard_is_stopped_here_and_ends_interrupted(held, tmp_path):
    model, server = held
    store = open_store(tmp_path / "runs.db")
    # Rounds are driven by the test (LeaseKeeper.round, what the keeper's thread does every lease_renew_s).
    manager = RunManager(store, max_runs=1, batch_size=2, concurrency=1, lease_renew_s=600.0, lease_expiry_s=1800.0)
    run_id = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[0])] * 10))
    wait_until(lambda: store.get_run(run_id).done == 4, timeout=30, what="two batches stored")
    first = store.get_run(run_id).lease_expires_at
    assert manager.leases.round() and store.get_run(run_id).lease_expires_at > first
    # Another replica decided this process was gone (its lease lapsed while the store was unreachable, say).
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(status="interrupted", error="settled elsewhere"))
    manager.leases.round()    # the renewal finds the run no longer this process's: the job is stopped
    model.gate.release(1000)
    wait_until(lambda: not manager.is_active(run_id), timeout=30, what="the run to stop here")
    run = store.get_run(run_id)
    assert (run.status, run.error) == ("interrupted", f"run {run_id} stopped here: {LEASE_LOST}")
    assert run.done >= 4 and store.run_rows(run_id)["top_class"].notna().all()
    manager.shutdown()


# -- two dashboards on one PostgreSQL, one killed -----------------------------------------------------------
REPLICA = """
import sys
from dashboard.runs.manager import RunManager
from client.store.database import open_store
from tests.dashboard.runs.test_runner import COLOURS, items_of, png
database, url, model = sys.argv[1:4]
manager = RunManager(open_store(database), max_runs=1, batch_size=2, concurrency=1, lease_renew_s=0.2,
                     lease_expiry_s=1.5)   # the test's EXPIRY_S
run_id = manager.submit_classify(url, model, items_of([png(COLOURS[0])] * 10))
print(run_id, flush=True)
manager.wait(run_id, 600)
print(manager.store.get_run(run_id).status, flush=True)
manager.shutdown()
"""


class TwoModels:
    """A fake TF Serving with models 'alpha' and 'beta', each letting `allowed` predict requests through and holding
    the rest until released."""

    def __init__(self, allowed: int) -> None:
        self.gates = {name: threading.Semaphore(allowed) for name in ("alpha", "beta")}

    def __call__(self, request):
        name = re.search(r"/models/([a-z]+)", request.path)[1]
        if request.method == "GET":
            return json_response(fake_metadata(name) if request.path.endswith("/metadata") else fake_status(1))
        self.gates[name].acquire(timeout=120)
        images = [base64.b64decode(i["image_bytes"]["b64"]) for i in json.loads(request.get_data())["instances"]]
        return json_response({"predictions": [fake_prediction(image) for image in images]})


def replica(database: str, url: str, model: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", REPLICA, database, url, model], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_replica_killed_mid_run_is_interrupted_by_the_survivor_and_a_live_run_never_is(postgres_server):
    database = postgres_server.create_database()
    models = TwoModels(allowed=2)
    server = FakeServer(models)
    server.start()
    doomed = survivor = None
    try:
        doomed, survivor = replica(database, server.url, "alpha"), replica(database, server.url, "beta")
        lost, live = doomed.stdout.readline().strip(), survivor.stdout.readline().strip()
        assert lost and live, doomed.stderr.read()[-2000:] + survivor.stderr.read()[-2000:]
        store = open_store(database)
        wait_until(lambda: store.get_run(lost).done == 4 and store.get_run(live).done == 4, timeout=60,
                   what="two batches of each run stored")
        os.kill(doomed.pid, signal.SIGKILL)    # no cleanup, no final status, no more renewals
        doomed.wait(timeout=30)
        # The survivor's lease keeper finds the lease expired and settles the run; the rows stay.
        wait_until(lambda: store.get_run(lost).finished, timeout=60, what="the survivor to settle the dead run")
        run = store.get_run(lost)
        assert (run.status, run.done, run.total, run.error) == (
            "interrupted", 4, 10, LEASE_EXPIRED.format(done=4, total=10))
        assert store.run_rows(lost)["source"].tolist() == [f"batch.zip/{i}.png" for i in range(4)]
        # The survivor's own run, held at the gate, keeps its lease, running, through three more expiry periods ...
        start = store.get_run(live).lease_expires_at

        def renewed_for_three_expiries() -> bool:
            now = store.get_run(live)
            assert now.status == "running"
            return now.lease_expires_at > start + timedelta(seconds=3 * EXPIRY_S)
        wait_until(renewed_for_three_expiries, timeout=60, what="the live run's lease renewed for three expiries")
        # ... and a dashboard starting now marks nothing: the live run's process renews its lease.
        starting = RunManager(store, lease_renew_s=0.2, lease_expiry_s=EXPIRY_S)
        assert starting.interrupted_at_start == []
        starting.shutdown()
        models.gates["beta"].release(1000)
        assert survivor.stdout.readline().strip() == "complete", survivor.stderr.read()[-2000:]
        assert survivor.wait(timeout=60) == 0
        finished = store.get_run(live)
        assert (finished.status, finished.done, finished.error) == ("complete", 10, None)
    finally:
        for process in (doomed, survivor):
            if process is not None and process.poll() is None:
                process.kill()
        for gate in models.gates.values():
            gate.release(1000)
        server.stop()
