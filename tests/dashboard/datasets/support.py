"""Datasets made for the dashboard's tests in the test's own run store and image store (SERVESCOPE_DB and
SERVESCOPE_BLOBS of the `page` fixture and tests/dashboard/conftest.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from client.store import Datasets, DatasetVersion, open_image_store, open_store
from client.store.blobs import blob_key
from tests.support import wait_until

FINAL = ("complete", "cancelled", "interrupted", "failed")
OPERATOR_TOKEN = "operator-token-for-the-tests-0123"   # SERVESCOPE_OPERATOR_TOKEN of a page that types it


def datasets_at(tmp_path: Path) -> Datasets:
    store = open_store(tmp_path / "runs.db")
    return Datasets(store, open_image_store(store, tmp_path / "blobs", quota_bytes=None))


def make_dataset(tmp_path: Path, name: str, members: Mapping[str, bytes], truth: str = "folders") -> DatasetVersion:
    """A dataset of `members` (source -> bytes, in that order) with truth from their folders."""
    items = [(source, (lambda data=data: data)) for source, data in members.items()]
    return datasets_at(tmp_path).create(name, items, truth=truth).version


def lose_object(tmp_path: Path, sha256: str) -> None:
    """The image store loses one object behind the index's back (deleted by hand)."""
    (tmp_path / "blobs" / blob_key(sha256)).unlink()


def wait_run(store, run_id: str, timeout: float = 60):
    wait_until(lambda: store.get_run(run_id).status in FINAL, timeout=timeout, what=f"run {run_id}")
    return store.get_run(run_id)


CLASSES = ("cat", "dog", "other")


def stored_run(store, version: DatasetVersion, items, predicted, *, target: str = "label:stable",
               answered: int = 1, latency_ms: float = 10.0, kind: str = "classify") -> str:
    """A finished run on `version` as a run of the dashboard stores it: one row per item (DatasetItem), predicted
    class per row (None: an error row), with the item's truth and a fixed latency."""
    run = store.create_run(kind=kind, url="http://model", model="pets", target=target, total=len(items),
                           class_names=CLASSES, status="running", dataset=version)
    store.update_progress(run.id, version=answered)
    rows = []
    for item, top in zip(items, predicted):
        row = {"position": item.position, "source": item.source, "ground_truth": item.truth, "version": answered,
               "latency_ms": latency_ms, "model": "pets", "target": target}
        if top is None:
            row.update(error=f"{item.source}: broken", error_type="ImageError")
        else:
            row.update(top_class=top, confidence=0.9,
                       **{f"prob_{name}": (0.9 if name == top else 0.05) for name in CLASSES})
        rows.append(row)
    store.add_rows(run.id, rows)
    store.finish_run(run.id, "complete", elapsed_s=1.0)
    return run.id
