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

from client import ClassificationResult, InvalidArgumentError, ModelProfile, TFServingClient, TFServingError, schema
from client.plan import ClassifyPlan
from client.sources import Item, Loader
from dashboard.runs.thumbnails import made_or_none
from dashboard.server.profiles import (NO_PROFILE_ORIGIN, ProfileChoice, ProfileChooser, ProfileFileError,
                                       ProfileProblem)
from dashboard.server.signatures import signature_digest
from client.store.database import RunProfile, Store, StoreError

__all__ = ["ClientFactory", "Job", "SideResult", "run_side", "resolve_labels", "run_profile", "signature_digest_of"]

Thumbnailer = Callable[[bytes], Future]   # may block while too many image bytes wait for their thumbnails
# (url, model) -> a client; called with profile=... as well when the run has a model profile.
ClientFactory = Callable[..., TFServingClient]


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
    keep_images: bool = False                  # its images go to the image store after it (dashboard.runs.keeping)
    profiles: ProfileChooser | None = None     # which model profile it uses (None: the client's default)


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


def run_profile(plan: ClassifyPlan, choice: ProfileChoice | None) -> RunProfile:
    """What the run stores about its profile (RunProfile.from_plan), with where it came from."""
    return RunProfile.from_plan(plan, choice.origin if choice is not None and choice.profile is not None else None)


def _profile_choice(job: "Job", client_factory: ClientFactory) -> ProfileChoice | None:
    """The job's profile for the version it will reach (a label or latest is resolved first only when the model
    has per-version profile files); ProfileFileError when that profile cannot be used."""
    if job.profiles is None:
        return None
    version = job.version
    if version is None and job.profiles.depends_on_version:
        with client_factory(job.url, job.model) as probe:
            version = probe.resolve_version(label=job.label)
    return job.profiles.choose(version).checked()


def _plan(client: TFServingClient, job: "Job", choice: ProfileChoice | None) -> tuple[int | None, ClassifyPlan]:
    """client.plan(); a profile key that does not fit the model's signature is a ProfileFileError naming where the
    profile came from (InvalidArgumentError's field is the key)."""
    try:
        return client.plan(version=job.version, label=job.label)
    except InvalidArgumentError as exc:
        origin = choice.origin if choice is not None and choice.profile is not None else NO_PROFILE_ORIGIN
        hint = "" if choice is not None and choice.profile is not None else "; set a profile"
        raise ProfileFileError(ProfileProblem(origin, exc.field, f"{exc.reason}{hint}")) from None


def _client(client_factory: ClientFactory, job: "Job", profile: ModelProfile | None) -> TFServingClient:
    if profile is None:
        return client_factory(job.url, job.model)
    return client_factory(job.url, job.model, profile=profile)


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


def run_side(job: Job, store: Store, client_factory: ClientFactory,
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
            choice = _profile_choice(job, client_factory)
            with _client(client_factory, job, choice.profile if choice is not None else None) as client:
                resolved, plan = _plan(client, job, choice)
                if choice is not None and job.profiles.depends_on_version and job.profiles.choose(resolved) != choice:
                    raise RuntimeError(f"{job.label or 'the latest version'} moved to version {resolved} while the "
                                       "run started, and that version has another profile; run it again")
                labels = resolve_labels(client, (*job.probe_labels, job.label))
                store.update_progress(job.run_id, version=resolved, labels_at_start=None if retry else labels,
                                      signature_digest=signature_digest_of(client, resolved, plan.signature_name),
                                      profile=run_profile(plan, choice))
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
