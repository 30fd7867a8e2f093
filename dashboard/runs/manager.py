"""Batches that outlive the page: app-owned worker threads, keyed by run id, writing rows as they arrive.

One RunManager per app process (the page holds it with st.cache_resource). At most
`SERVESCOPE_MAX_RUNS` jobs (default 2) run at once; the rest wait with status 'queued', visibly. A
job classifies (name, loader) pairs (client.sources.expand_uploads) with TFServingClient.iter_classify
and stores each batch's rows in one transaction (on a thread of its own: the requests never wait for it).
≤ 96 px thumbnails are made from the bytes the client already read, within a memory budget, once the job ends
(dashboard.runs.thumbnails); rows never wait for them: the ones not made in time are written into the stored rows
after the run ends (`thumbnails_pending`, `wait_thumbnails`). A run ends complete, cancelled (finished rows kept) or
interrupted/failed with N of M done. The loaders of a run that ended with failures are kept (for the
newest `keep_for_retry` such runs) so `retry_failed` can re-send just those rows; a clean run releases
them for retries at once. Separately, the newest `keep_for_reuse` runs keep their loaders so `items_of`
can hand the same images to another run (Compare with… from a Classify result) without a new upload
(dashboard.runs.uploads).

Each run records the browser that started it (`started_by`, dashboard.runs.ownership) and is held by a lease this
process renews (dashboard.runs.leases): at start and every few seconds after, runs whose lease expired, or whose
process on this host has ended, are marked interrupted. cancel, retry_failed and items_of take the visitor asking
(`by`) and refuse with NotAllowed (cancel, retry) or ItemsUnavailable (items_of) when it may not; without `by` the
caller is this process itself (a script, a test).
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from collections import OrderedDict
from typing import Callable, Mapping, Sequence

from client import ModelProfile, TFServingClient, schema
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from client.sources import Item
from dashboard.config import PREDICT_TIMEOUT_S, lease_timing
from dashboard.runs.leases import LeaseKeeper
from dashboard.runs.ownership import Actor
from dashboard.runs.side import Job, SideResult, run_side
from dashboard.runs.thumbnails import THUMBNAIL_BUDGET_BYTES, ThumbnailPool
from dashboard.runs.uploads import ItemsUnavailable, KeptUploads, RetryUnavailable
from client.store.database import Comparison, RunInfo, Store
from dashboard.targets import Target

__all__ = ["RunManager", "Progress", "RetryUnavailable", "ItemsUnavailable", "ClientFactory",
           "max_runs_from_env"]

ClientFactory = Callable[..., TFServingClient]   # (url, model), and profile= for a target that has one
PROFILES_KEPT = 256   # runs whose target's profile this process keeps for a retry


def max_runs_from_env() -> int:
    text = os.environ.get("SERVESCOPE_MAX_RUNS", "2")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"SERVESCOPE_MAX_RUNS must be a whole number >= 1, not {text!r}")
    return int(text)


def default_client(url: str, model: str, profile: ModelProfile | None = None) -> TFServingClient:
    return TFServingClient(url, model, timeout=PREDICT_TIMEOUT_S, retries=2, profile=profile)


@dataclass(frozen=True)
class Progress:
    run_id: str
    status: str
    total: int
    done: int                   # rows stored (results and error rows)
    errors: int
    elapsed_s: float
    images_per_s: float | None  # of this pass (a retry counts only what it re-sends)
    eta_s: float | None
    outcome: str                # RunInfo.outcome(): honest counts of what finished and what failed
    error: str | None


@dataclass
class _Active:
    job: Job
    future: Future | None = None
    started: float | None = None
    passed: int = 0             # results stored in this pass
    pass_total: int = 0
    ended: bool = False         # its side has stored its final status (the lease is no longer renewed)


class RunManager:
    def __init__(self, store: Store, *, max_runs: int | None = None, client_factory: ClientFactory = default_client,
                 batch_size: int = DEFAULT_BATCH_SIZE, concurrency: int = DEFAULT_CONCURRENCY, keep_for_retry: int = 4,
                 thumbnail_workers: int = 2, thumbnail_budget_bytes: int = THUMBNAIL_BUDGET_BYTES,
                 thumbnail_draw_grace_s: float | None = None, keep_for_reuse: int = 4,
                 on_client: Callable[[str, TFServingClient], None] | None = None,
                 lease_renew_s: float | None = None, lease_expiry_s: float | None = None) -> None:
        """`lease_renew_s`/`lease_expiry_s`: how often this process renews its runs' leases and how long one lasts
        (default: config.lease_timing, from SERVESCOPE_LEASE_RENEW_S and SERVESCOPE_LEASE_EXPIRY_S)."""
        self.store = store
        self.on_client = on_client  # (run id, client) for every client a run makes, e.g. the request inspector
        self.max_runs = max_runs or max_runs_from_env()
        self.client_factory = client_factory
        self.batch_size, self.concurrency, self.keep_for_retry = batch_size, concurrency, keep_for_retry
        self.keep_for_reuse = keep_for_reuse
        self.uploads = KeptUploads(keep_for_retry=keep_for_retry, keep_for_reuse=keep_for_reuse)
        self._workers = ThreadPoolExecutor(self.max_runs, thread_name_prefix="servescope-run")
        self.thumbnail_pool = ThumbnailPool(store, workers=thumbnail_workers, budget_bytes=thumbnail_budget_bytes,
                                            draw_grace_s=thumbnail_draw_grace_s)
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}
        self._unsaved: dict[str, str] = {}  # run id -> why its final status could not be stored
        self._profiles: OrderedDict[str, ModelProfile] = OrderedDict()  # run id -> its target's profile
        if lease_renew_s is None or lease_expiry_s is None:
            configured = lease_timing()
            lease_renew_s, lease_expiry_s = lease_renew_s or configured[0], lease_expiry_s or configured[1]
        self.lease_renew_s, self.lease_expiry_s = lease_renew_s, lease_expiry_s
        # Runs left 'running' by a process that ended (a crash, a restart: on this host by its process id, on any
        # host by its expired lease) are settled before new ones start, and every lease_renew_s after.
        self.interrupted_at_start: list[RunInfo] = store.mark_interrupted_runs() + store.interrupt_expired_leases()
        self.leases = LeaseKeeper(store, self._leased_jobs, renew_s=self.lease_renew_s, expiry_s=self.lease_expiry_s)
        self.leases.start()

    # -- starting -------------------------------------------------------------------------------
    def submit_classify(self, url: str, model: str, items: Sequence[Item], *, version: int | None = None,
                        label: str | None = None, session_id: str | None = None,
                        truth: Mapping[str, str] | None = None, truth_summary: str | None = None,
                        probe_labels: Sequence[str] = (), thumbnails: bool = True,
                        started_by: str | None = None) -> str:
        """Queue a classify run; returns its id at once (status 'queued' until a worker takes it). `started_by`:
        the digest of the starting browser's token (dashboard.runs.ownership), None when no browser started it."""
        items = list(items)
        if not items:
            raise ValueError("no files to classify: upload at least one image or ZIP archive")
        run = self.store.create_run(kind="classify", url=url, model=model, total=len(items), session_id=session_id,
                                    target=schema.target_text(version=version, label=label),
                                    truth_summary=truth_summary, thumbnails=thumbnails, started_by=started_by,
                                    lease_s=self.lease_expiry_s)
        job = Job(run.id, url, model, version, label, items, dict(truth or {}), tuple(probe_labels), thumbnails)
        self._start(job)
        return run.id

    def submit_compare(self, url: str, model: str, items: Sequence[Item],
                       targets: Sequence[Target | tuple[int | None, str | None]], *, session_id: str | None = None,
                       truth: Mapping[str, str] | None = None, truth_summary: str | None = None,
                       probe_labels: Sequence[str] = (), started_by: str | None = None) -> Comparison:
        """One run per target (a Target, whose profile the side is classified with, or a (version, label) pair)
        over the same items, run side by side as one job (one worker slot); the first side keeps the thumbnails.
        Two targets may be the same version with different profiles. Returns the stored comparison (baseline =
        first target)."""
        items = list(items)
        targets = [t if isinstance(t, Target) else Target(*t) for t in targets]
        if len(targets) < 2 or not items:
            raise ValueError("a comparison needs at least two targets and one file")
        if missing := [t.describe() for t in targets if t.profile_digest is not None and t.profile is None]:
            raise ValueError(f"the profile itself is needed to run {', '.join(missing)}")
        runs = [self.store.create_run(kind="compare", url=url, model=model, total=len(items), session_id=session_id,
                                      target=t.text, truth_summary=truth_summary, thumbnails=i == 0,
                                      started_by=started_by, lease_s=self.lease_expiry_s)
                for i, t in enumerate(targets)]
        comparison = self.store.save_comparison(runs[0].id, [r.id for r in runs[1:]], session_id=session_id)
        sides = [Job(r.id, url, model, t.version, t.label, items, dict(truth or {}), tuple(probe_labels), i == 0,
                     warm_up=True, profile=t.profile)
                 for i, (r, t) in enumerate(zip(runs, targets))]
        for side in sides:
            self._keep_profile(side)
        self._start(sides[0], sides=sides)
        return comparison

    def _keep_profile(self, job: Job) -> None:
        if job.profile is None:
            return
        with self._lock:
            self._profiles[job.run_id] = job.profile
            self._profiles.move_to_end(job.run_id)
            while len(self._profiles) > PROFILES_KEPT:
                self._profiles.popitem(last=False)

    def _start(self, job: Job, *, sides: Sequence[Job] | None = None) -> None:
        entries = [_Active(side) for side in (sides or [job])]
        with self._lock:
            for entry in entries:
                self._active[entry.job.run_id] = entry
        future = self._workers.submit(self._work, entries)
        for entry in entries:
            entry.future = future

    # -- the worker ------------------------------------------------------------------------------
    def _work(self, entries: list[_Active]) -> None:
        try:
            # The job's thumbnails are made after it (its sides' requests keep the CPU) and after the page drew its
            # results (results_drawn), or when memory requires.
            with self.thumbnail_pool.held_back(entry.job.run_id for entry in entries) as thumbnailer:
                if len(entries) == 1:
                    self._run_one(entries[0], thumbnailer)
                else:
                    with ThreadPoolExecutor(len(entries), thread_name_prefix="servescope-side") as sides:
                        list(sides.map(lambda entry: self._run_one(entry, thumbnailer), entries))
        finally:
            with self._lock:
                for entry in entries:
                    self._active.pop(entry.job.run_id, None)

    def _run_one(self, entry: _Active, thumbnailer: Callable[[bytes], Future]) -> None:
        job = entry.job
        entry.started, entry.pass_total = time.monotonic(), len(job.positions or job.items)

        def stored(count: int) -> None:
            entry.passed += count

        try:
            outcome: SideResult = run_side(job, self.store, self._client_factory(job),
                                           thumbnailer if job.thumbnails else None, stored,
                                           batch_size=self.batch_size, concurrency=self.concurrency)
        except Exception as exc:  # noqa: BLE001 - the store failed before the run could even start
            outcome = SideResult("unsaved", len(job.positions or job.items), f"{type(exc).__name__}: {exc}")
        entry.ended = True
        if job.thumbnails:  # before the run stops being active: its thumbnails are pending all along
            self.thumbnail_pool.follow(job.run_id, outcome.thumbnails_stored, outcome.late_thumbnails)
        if outcome.status == "unsaved":
            with self._lock:
                self._unsaved[job.run_id] = outcome.error or "the final status could not be stored"
        self.uploads.ended(job.run_id, job.items, job.truth, first_pass=job.positions is None,
                           failures=outcome.failures)

    def _client_factory(self, job: Job) -> ClientFactory:
        if self.on_client is None:
            return self.client_factory

        def make(url: str, model: str, **options) -> TFServingClient:
            client = self.client_factory(url, model, **options)
            self.on_client(job.run_id, client)
            return client
        return make

    # -- watching and steering -------------------------------------------------------------------------
    def progress(self, run_id: str) -> Progress:
        run = self.store.get_run(run_id)
        if run is None:
            raise LookupError(f"run {run_id} is not stored")
        with self._lock:
            entry = self._active.get(run_id)
        elapsed = run.elapsed_s or 0.0
        rate = eta = None
        if entry is not None and entry.started is not None:
            elapsed = time.monotonic() - entry.started
            rate = entry.passed / elapsed if elapsed > 0 and entry.passed else None
            left = entry.pass_total - entry.passed
            eta = left / rate if rate else None
        elif run.elapsed_s and run.done:
            rate = run.done / run.elapsed_s
        with self._lock:
            error = self._unsaved.get(run_id, run.error)
        return Progress(run_id, run.status, run.total, run.done, run.errors, elapsed, rate, eta, run.outcome(), error)

    def wait(self, run_id: str, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a run of this process to end; True when it is not running (any more)."""
        with self._lock:
            entry = self._active.get(run_id)
        if entry is None or entry.future is None:
            return entry is None
        try:
            entry.future.result(timeout=timeout)
        except TimeoutError:
            return False
        except Exception:  # noqa: BLE001 - the run's own outcome is in the store; here it only ended
            pass
        return True

    def thumbnails_pending(self, run_id: str) -> bool:
        """True while this process still has thumbnails to store for the run (it runs, or they are being made)."""
        with self._lock:
            entry = self._active.get(run_id)
        return (entry is not None and entry.job.thumbnails) or self.thumbnail_pool.pending(run_id)

    def thumbnail_progress(self, run_id: str) -> tuple[int, int] | None:
        """(made, total) of a finished run's thumbnails while they are still being stored, else None."""
        return self.thumbnail_pool.progress(run_id)

    def wait_thumbnails(self, run_id: str, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the run to end and its thumbnails to be stored; True when they are."""
        deadline = time.monotonic() + timeout
        if not self.wait(run_id, timeout):
            return False
        return self.thumbnail_pool.wait(run_id, max(0.0, deadline - time.monotonic()))

    def results_drawn(self, run_id: str) -> None:
        """The page drew the finished run's results: its thumbnails may be made now (they waited so as not to slow
        that drawing down; with no page they start dashboard.runs.thumbnails.DRAW_GRACE_S after the run anyway)."""
        self.thumbnail_pool.results_drawn(run_id)

    def is_active(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._active

    def active_run_ids(self) -> list[str]:
        """The ids of this process's queued and running runs, oldest first (every visitor's)."""
        with self._lock:
            return list(self._active)

    def cancel(self, run_id: str, *, by: Actor | None = None) -> bool:
        """Stop a queued or running run; rows already stored stay. False when it is not running here. Raises
        NotAllowed when `by` may not cancel it (dashboard.runs.ownership)."""
        with self._lock:
            entry = self._active.get(run_id)
        if entry is None:
            return False
        if by is not None:
            self._check(run_id, by, "cancel")
        entry.job.cancelled.set()
        return True

    def retry_failed(self, run_id: str, *, by: Actor | None = None) -> int:
        """Re-send only the failed rows (and any never sent) of a finished run, to the version that answered;
        returns how many. Raises RetryUnavailable saying why when it cannot, NotAllowed when `by` may not."""
        run = self.store.get_run(run_id)
        if run is None:
            raise LookupError(f"run {run_id} is not stored")
        if by is not None:
            by.check_act(run, "retry")
        if self.is_active(run_id):
            raise RetryUnavailable(f"run {run_id} is still {run.status}; wait for it to finish or cancel it")
        asked = Target.parse(run.target)
        with self._lock:
            profile = self._profiles.get(run_id)
        if asked.profile_digest is not None and (profile is None or profile.digest != asked.profile_digest):
            raise RetryUnavailable(f"run {run_id} was classified with a model profile this dashboard process no "
                                   "longer holds; run the comparison again")
        kept = self.uploads.take_for_retry(run_id)
        stored = set(self.store.run_rows(run_id).index)
        positions = sorted(set(self.store.failed_positions(run_id)) | (set(range(run.total)) - stored))
        if not positions:
            return 0
        version, label = (run.version, None) if run.version is not None else (asked.version, asked.label)
        self.store.reopen_run(run_id, lease_s=self.lease_expiry_s)
        self._start(Job(run_id, run.url, run.model, version, label, kept.items, kept.truth, tuple(run.labels_at_start),
                        run.thumbnails, positions=positions, profile=profile))
        return len(positions)

    def items_of(self, run_id: str, *, by: Actor | None = None) -> list[Item]:
        """The (name, loader) items a finished run classified, for another run over the same images.
        Raises ItemsUnavailable saying why when they are no longer held, or are not `by`'s to reuse."""
        if by is not None:
            run = self.store.get_run(run_id)
            if run is not None and not by.may_see_private(run):
                raise ItemsUnavailable(f"the images of run {run_id} belong to the browser that started it: upload "
                                       "them to compare them")
        if self.is_active(run_id):
            raise ItemsUnavailable(f"run {run_id} is still running; wait for it to finish")
        return self.uploads.reusable(run_id)

    def _leased_jobs(self) -> dict[str, Job]:
        """run id -> job of this process's runs whose leases it renews (queued, or running and not yet ended)."""
        with self._lock:
            return {run_id: entry.job for run_id, entry in self._active.items() if not entry.ended}

    def _check(self, run_id: str, by: Actor, what: str) -> None:
        run = self.store.get_run(run_id)
        if run is None:
            raise LookupError(f"run {run_id} is not stored")
        by.check_act(run, what)

    def release(self, run_id: str, reason: str = "released by the page") -> None:
        """Drop a run's uploaded files; after this, retry_failed and items_of say why they cannot run."""
        self.uploads.release(run_id, reason)

    def shutdown(self, *, wait: bool = True) -> None:
        """Cancel every run and stop the workers (the app is exiting); stored rows stay."""
        self.leases.stop()
        with self._lock:
            for entry in self._active.values():
                entry.job.cancelled.set()
        self._workers.shutdown(wait=wait, cancel_futures=False)
        self.thumbnail_pool.shutdown(wait=wait)

