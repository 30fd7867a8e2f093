"""One side of a run, start to end: resolve the target, classify, store each batch, end with an honest status.

Called on a RunManager worker thread (dashboard.runs.manager); no Streamlit here. Rows never wait for thumbnails: a
row is stored with its thumbnail if it is made by then, else without it; the thumbnails still being made come
back in SideResult.late_thumbnails, for dashboard.runs.thumbnails to write into the stored rows afterwards.
"""
from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from client import ClassificationResult, ModelProfile, TFServingClient, TFServingError, schema
from client.sources import Item, Loader
from dashboard.runs.thumbnails import made_or_none
from dashboard.server.signatures import signature_digest
from client.store.database import Store, StoreError

__all__ = ["Job", "SideResult", "open_side_client", "run_side", "resolve_labels", "signature_digest_of"]

Thumbnailer = Callable[[bytes], Future]   # may block while too many image bytes wait for their thumbnails


@dataclass
class Job:
    run_id: str
    url: str
    model: str
    version: int | None
    label: str | None
    items: Sequence[Item]
    truth: Mapping[str, str]
    probe_labels: tuple[str, ...]
    thumbnails: bool
    warm_up: bool = False                      # one untimed request first (Compare: no side pays the cold start)
    positions: Sequence[int] | None = None     # a retry re-sends only these
    cancelled: threading.Event = field(default_factory=threading.Event)
    lease_lost: str | None = None              # why the run was stopped here after another process settled it
    profile: ModelProfile | None = None        # the target's model profile (Compare), else the client's own


@dataclass(frozen=True)
class SideResult:
    status: str                # a final status, or "unsaved" when even that could not be stored
    failures: int              # error rows, plus rows never sent, after this pass
    error: str | None = None
    thumbnails_stored: int = 0                                            # stored with their rows (made in time)
    late_thumbnails: Mapping[int, Future] = field(default_factory=dict)   # stored rows' thumbnails made after them


def resolve_labels(client: TFServingClient, labels: Iterable[str | None]) -> dict[str, int]:
    """label -> version for each label the server knows (an unknown label is left out)."""
    found: dict[str, int] = {}
    for label in dict.fromkeys(name for name in labels if name):
        try:
            found[label] = client.resolve_version(label=label)
        except TFServingError:
            continue
    return found


def signature_digest_of(client: TFServingClient, version: int | None, signature_name: str | None) -> str | None:
    """dashboard.server.signatures.signature_digest of the signature a run uses; None when it cannot be read."""
    if version is None:
        return None
    try:
        return signature_digest(client.metadata(version=version).signature(signature_name))
    except (TFServingError, KeyError):
        return None


class _RowWriter:
    """Buffers results and stores them, one transaction per batch, as schema rows with the thumbnails made so far.

    Storing runs on a thread of its own, in order: writing a batch would otherwise hold up the client's generator,
    which sends the next batch only when resumed (half the requests in flight). A failed write is raised by the
    next flush() or by finish(). After finish(), `late` holds the stored rows' thumbnails not made in time."""

    def __init__(self, job: Job, store: Store, class_names: Sequence[str], target: str,
                 on_stored: Callable[[int], None]) -> None:
        self.job, self.store, self.target, self.on_stored = job, store, target, on_stored
        self.class_names = tuple(class_names)
        self.thumbnails: dict[int, Future] = {}   # position -> thumbnail, from the moment its image is read
        self.late: dict[int, Future] = {}         # stored rows' thumbnails not made in time
        self.thumbnails_stored = 0
        self.pending: list[tuple[int, ClassificationResult]] = []
        self._storing = ThreadPoolExecutor(1, thread_name_prefix="servescope-store")
        self._writes: list[Future] = []

    def add(self, position: int, result: ClassificationResult) -> None:
        self.pending.append((position, result))

    def flush(self) -> None:
        if self.pending:
            self._writes.append(self._storing.submit(self._store, self.pending))
            self.pending = []
        self._raise_failed_write()

    def finish(self) -> None:
        """Flush, wait for every write, and raise the first that failed."""
        try:
            self.flush()
            while self._writes:
                self._writes.pop(0).result()
        finally:
            self._storing.shutdown(wait=True)

    def _raise_failed_write(self) -> None:
        for write in [w for w in self._writes if w.done()]:
            self._writes.remove(write)
            write.result()

    def _store(self, batch: list[tuple[int, ClassificationResult]]) -> None:
        if not self.class_names:  # the model's class order, from its first answer
            first = next((r for _, r in batch if r.ok and r.probabilities), None)
            if first is not None:
                self.class_names = tuple(first.probabilities)
                self.store.update_progress(self.job.run_id, class_names=self.class_names)
        rows, late = [], {}
        for position, result in batch:
            row = schema.result_row(result, self.class_names, model=self.job.model, target=self.target,
                                    ground_truth=self.job.truth.get(result.source))
            thumbnail = self.thumbnails.pop(position, None)
            if thumbnail is not None and not thumbnail.done():
                late[position], thumbnail = thumbnail, None   # never waited for: written into the row later
            row.update(position=position, thumbnail=made_or_none(thumbnail) if thumbnail is not None else None,
                       extras=dict(result.extras) if result.ok and result.extras else None)
            rows.append(row)
        self.store.add_rows(self.job.run_id, rows)
        self.late.update(late)
        self.thumbnails_stored += sum(row["thumbnail"] is not None for row in rows)
        self.on_stored(len(rows))


def open_side_client(job: Job, client_factory: Callable[..., TFServingClient]) -> TFServingClient:
    """The job's client: `client_factory(url, model)`, with `profile=` when the job's target has one."""
    if job.profile is None:
        return client_factory(job.url, job.model)
    return client_factory(job.url, job.model, profile=job.profile)


def run_side(job: Job, store: Store, client_factory: Callable[..., TFServingClient],
             thumbnailer: Thumbnailer | None, on_stored: Callable[[int], None], *, batch_size: int,
             concurrency: int) -> SideResult:
    run = store.get_run(job.run_id)
    assert run is not None, f"run {job.run_id} vanished from the store"
    positions = list(job.positions) if job.positions is not None else list(range(len(job.items)))
    retry = job.positions is not None
    writer = _RowWriter(job, store, run.class_names, run.target, on_stored)
    clock = time.monotonic()
    status, error, labels_at_end = "cancelled", None, None
    try:
        if not job.cancelled.is_set():  # a queued run cancelled before it started ends here, with 0 done
            store.update_progress(job.run_id, status="running")
            with open_side_client(job, client_factory) as client:
                resolved, plan = client.plan(version=job.version, label=job.label)
                labels = resolve_labels(client, (*job.probe_labels, job.label))
                store.update_progress(job.run_id, version=resolved, labels_at_start=None if retry else labels,
                                      signature_digest=signature_digest_of(client, resolved, plan.signature_name))
                target = {"version": resolved} if resolved is not None else {"version": job.version,
                                                                              "label": job.label}
                if job.warm_up:
                    client.classify([job.items[positions[0]]], batch_size=1, concurrency=1, **target)
                clock = time.monotonic()  # timed from here: the warm-up is not part of the run
                _classify(job, client, target, positions, writer, thumbnailer, batch_size, concurrency)
                labels_at_end = resolve_labels(client, (*job.probe_labels, job.label))
            status = "cancelled" if job.cancelled.is_set() else "complete"
        if job.lease_lost is not None:  # another dashboard settled it (dashboard.runs.leases): it ends interrupted
            status, error = "interrupted", job.lease_lost
    except Exception as exc:  # noqa: BLE001 - any failure ends the run with what it has, and says why
        with contextlib.suppress(StoreError):
            writer.finish()  # results that arrived before the failure are kept
        error = f"{type(exc).__name__}: {exc}"
        try:
            status = "interrupted" if store.get_run(job.run_id).done else "failed"
        except StoreError:
            status = "interrupted"
    elapsed = time.monotonic() - clock + ((run.elapsed_s or 0.0) if retry else 0.0)
    try:
        final = store.finish_run(job.run_id, status, error=error, elapsed_s=elapsed, labels_at_end=labels_at_end)
    except StoreError as exc:
        return SideResult("unsaved", len(positions), str(exc), writer.thumbnails_stored, writer.late)
    return SideResult(final.status, final.errors + (final.total - final.done), error, writer.thumbnails_stored,
                      writer.late)


def _classify(job: Job, client: TFServingClient, target: Mapping[str, Any], positions: Sequence[int],
              writer: _RowWriter, thumbnailer: Thumbnailer | None, batch_size: int, concurrency: int) -> None:
    def read(position: int, loader: Loader) -> Loader:
        def load() -> bytes:
            data = loader()
            if thumbnailer is not None:  # made from the bytes the client just read, while it sends them
                # (blocks while the image bytes waiting for thumbnails are over their budget)
                writer.thumbnails[position] = thumbnailer(data)
            return data
        return load

    wrapped = [(job.items[p][0], read(p, job.items[p][1])) for p in positions]
    results = client.iter_classify(wrapped, batch_size=batch_size, concurrency=concurrency, **target)
    with contextlib.closing(results):  # closing stops the client's workers when we leave early
        last_flush = time.monotonic()
        for position, result in zip(positions, results):
            if job.cancelled.is_set():
                break  # results arriving after Cancel are dropped; stored rows stay
            writer.add(position, result)
            # iter_classify yields a batch's results together, then waits for the next batch
            if len(writer.pending) >= batch_size or time.monotonic() - last_flush > 1.0:
                writer.flush()
                last_flush = time.monotonic()
    writer.finish()  # every row stored before the run's final status
