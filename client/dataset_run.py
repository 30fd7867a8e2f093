"""`python -m client classify --dataset NAME[@VERSION]`: a stored dataset version as the run's images and truth,
and the run recorded in the run store (SERVESCOPE_DB) as it goes, so the dashboard's History lists it.

The rows are those of any classify run (written to --out or stdout as usual) and are also stored at their items'
positions, a batch at a time; the run holds a lease, renewed while it runs, as the dashboard's runs do, so a
dashboard on any host marks it interrupted if this process dies. An image the image store has lost becomes that
image's error row (MissingImageError, naming it) and the rest is classified; the summary lists them. If the run
store fails during the run, classifying goes on, the rows still go to --out, and stderr says the run is not stored.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from client import schema
from client.sources import Item
from client.store import RunInfo, RunProfile, StoreError, open_store
from client.store.dataset_records import DatasetVersion
from client.store.datasets import Datasets
from client.store.images import open_image_store

__all__ = ["DatasetRun", "LEASE_RENEW_S", "LEASE_S"]

LEASE_S, LEASE_RENEW_S = 30.0, 5.0     # as the dashboard's defaults (SERVESCOPE_LEASE_EXPIRY_S / _RENEW_S)
_FLUSH_ROWS, _FLUSH_S = 64, 1.0
_STORE_IMAGE_ERRORS = ("MissingImageError", "ImageStoreError")
_NAMES_SHOWN = 10
_FAILURES = {1: "no image could be classified", 3: "the server failed, or the model or version went away"}


class DatasetRun:
    """One classify run on a dataset version: its sources and truth, and the stored run its rows go to."""

    def __init__(self, reference: str) -> None:
        """Resolve the dataset: StoreError, or DatasetNotFoundError naming what is missing. start() stores the run."""
        self.store = open_store()
        try:
            self.datasets = Datasets(self.store, open_image_store(self.store))
            self.version: DatasetVersion = self.datasets.get(reference)
            self.sources: list[Item] = self.datasets.sources(self.version)
            items = self.datasets.items(self.version)
            self.truth_table = {item.source: item.truth for item in items if item.truth is not None}
            self._positions = {item.source: item.position for item in items}
        except BaseException:
            self.store.close()
            raise
        self.run: RunInfo | None = None
        self._pending: list[dict[str, Any]] = []
        self._flushed_at = time.monotonic()
        self._learnt = False
        self._broken: str | None = None
        self.unreadable: list[str] = []      # sources whose stored image is missing or damaged
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name="servescope-lease", daemon=True)

    def start(self, *, url: str, model: str, target: str) -> RunInfo:
        """Store the run (status running, with a lease this process renews); StoreError when it cannot be."""
        self.run = self.store.create_run(kind="classify", url=url, model=model, target=target, total=len(self.sources),
                                         status="running", thumbnails=False, dataset=self.version, lease_s=LEASE_S)
        self._renewer.start()
        return self.run

    def use_profile(self, profile: RunProfile) -> None:
        """Store the model profile the run classifies with (client.store.records.RunProfile.from_plan)."""
        try:
            self.store.update_progress(self.run.id, profile=profile)
        except StoreError as exc:
            print(f"warning: {exc}; the run's profile is not stored", file=sys.stderr)

    @property
    def truth(self) -> tuple[str, Mapping[str, str]]:
        """(origin, table) for client.truth.detect_truth: the dataset's truth labels by source."""
        return f"dataset {self.version.reference}", self.truth_table

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_RENEW_S):
            try:
                self.store.renew_leases([self.run.id], lease_s=LEASE_S)
            except StoreError:
                pass  # the next write says so; a lapsed lease only lets a dashboard mark the run interrupted

    def record(self, rows: Sequence[dict[str, Any]]) -> None:
        """Schema rows (client.cli_rows.RowMaker) of this run; stored a batch at a time."""
        for row in rows:
            if row.get("error_type") in _STORE_IMAGE_ERRORS:
                self.unreadable.append(str(row["source"]))
            self._pending.append({**row, "position": self._positions[str(row["source"])]})
        if len(self._pending) >= _FLUSH_ROWS or time.monotonic() - self._flushed_at >= _FLUSH_S:
            self._flush()

    def _flush(self) -> None:
        self._flushed_at = time.monotonic()
        if self._broken is not None or not self._pending:
            self._pending.clear()
            return
        try:
            if not self._learnt:
                known = next((row for row in self._pending if schema.class_names_of(row)), None)
                if known is not None:
                    answered = next((row["version"] for row in self._pending if row.get("version") is not None), None)
                    self.store.update_progress(self.run.id, class_names=schema.class_names_of(known),
                                               version=answered)
                    self._learnt = True
            self.store.add_rows(self.run.id, self._pending)
        except StoreError as exc:
            self._broken = str(exc)
            print(f"warning: {exc}; classifying goes on, but run {self.run.id} is not stored past this point",
                  file=sys.stderr)
        self._pending.clear()

    def recorded(self, classify: Callable[[], int], *, url: str, model: str, target: str, exit_ok: int = 0,
                 exit_store: int = 4) -> int:
        """Store the run, classify(), then set its final status from the exit code (client.cli's: 0 complete, 1 and
        3 failed) or from what interrupted it. `exit_store` when the run cannot be stored (nothing is classified)."""
        try:
            self.start(url=url, model=model, target=target)
        except StoreError as exc:
            self.store.close()
            print(f"error: {exc}", file=sys.stderr)
            return exit_store
        try:
            code = classify()
        except KeyboardInterrupt:
            self.finish("interrupted", "stopped by the user (Ctrl-C)")
            raise
        except BaseException as exc:
            self.finish("failed", f"{type(exc).__name__}: {exc}")
            raise
        self.finish("complete" if code == exit_ok else "failed",
                    None if code == exit_ok else _FAILURES.get(code, f"python -m client exited with code {code}"))
        return code

    def finish(self, status: str, error: str | None = None) -> None:
        """Store what is left, end the lease and set the final status; says on stderr what was stored."""
        self._flush()
        self._stop.set()
        self._renewer.join(timeout=LEASE_RENEW_S + 1)
        if self.unreadable:
            shown = ", ".join(self.unreadable[:_NAMES_SHOWN])
            more = f" and {len(self.unreadable) - _NAMES_SHOWN} more" if len(self.unreadable) > _NAMES_SHOWN else ""
            print(f"{len(self.unreadable)} image(s) could not be read from the image store (their rows say why): "
                  f"{shown}{more}", file=sys.stderr)
        try:
            if self._broken is None:
                self.store.finish_run(self.run.id, status, error=error)
                print(f"stored as run {self.run.id} on dataset {self.version.reference} ({status})", file=sys.stderr)
        except StoreError as exc:
            print(f"warning: run {self.run.id} could not be finished in the run store: {exc}", file=sys.stderr)
        finally:
            self.store.close()

