"""Datasets made for the dashboard's tests in the test's own run store and image store (SERVESCOPE_DB and
SERVESCOPE_BLOBS of the `page` fixture and tests/dashboard/conftest.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from client.store import Datasets, DatasetVersion, open_image_store, open_store
from client.store.blobs import blob_key
from tests.support import wait_until

FINAL = ("complete", "cancelled", "interrupted", "failed")


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
