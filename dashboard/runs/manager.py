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
can hand the same images to another run (Compare with… from a Classify result) without a new upload.
"""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from client import TFServingClient, schema
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from client.sources import Item
from dashboard.config import PREDICT_TIMEOUT_S
from dashboard.runs.side import Job, SideResult, run_side
from dashboard.runs.thumbnails import THUMBNAIL_BUDGET_BYTES, ThumbnailPool
from dashboard.store.database import Comparison, RunInfo, Store
from dashboard.targets import Target

__all__ = ["RunManager", "Progress", "RetryUnavailable", "ItemsUnavailable", "ClientFactory",
           "max_runs_from_env"]

ClientFactory = Callable[[str, str], TFServingClient]


def max_runs_from_env() -> int:
    text = os.environ.get("SERVESCOPE_MAX_RUNS", "2")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"SERVESCOPE_MAX_RUNS must be a whole number >= 1, not {text!r}")
    return int(text)


def default_client(url: str, model: str) -> TFServingClient:
    return TFServingClient(url, model, timeout=PREDICT_TIMEOUT_S, retries=2)


class RetryUnavailable(RuntimeError):
    """retry_failed cannot run; the message says why (e.g. the uploads were released)."""


class ItemsUnavailable(LookupError):
    """items_of cannot hand a run's images out; the message says why."""


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
class _Retained:
    items: Sequence[Item]
    truth: Mapping[str, str]


@dataclass
class _Active:
    job: Job
    future: Future | None = None
    started: float | None = None
    passed: int = 0             # results stored in this pass
    pass_total: int = 0


class RunManager:
    def __init__(self, store: Store, *, max_runs: int | None = None, client_factory: ClientFactory = default_client,
                 batch_size: int = DEFAULT_BATCH_SIZE, concurrency: int = DEFAULT_CONCURRENCY, keep_for_retry: int = 4,
                 thumbnail_workers: int = 2, thumbnail_budget_bytes: int = THUMBNAIL_BUDGET_BYTES,
                 thumbnail_draw_grace_s: float | None = None, keep_for_reuse: int = 4,
                 on_client: Callable[[str, TFServingClient], None] | None = None) -> None:
        self.store = store
        self.on_client = on_client  # (run id, client) for every client a run makes, e.g. the request inspector
        self.max_runs = max_runs or max_runs_from_env()
        self.client_factory = client_factory
        self.batch_size, self.concurrency, self.keep_for_retry = batch_size, concurrency, keep_for_retry
        self.keep_for_reuse = keep_for_reuse
        self._reusable: OrderedDict[str, Sequence[Item]] = OrderedDict()  # run id -> its items, newest last
        self._workers = ThreadPoolExecutor(self.max_runs, thread_name_prefix="servescope-run")
        self.thumbnail_pool = ThumbnailPool(store, workers=thumbnail_workers, budget_bytes=thumbnail_budget_bytes,
                                            draw_grace_s=thumbnail_draw_grace_s)
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}
        self._retained: OrderedDict[str, _Retained] = OrderedDict()
        self._released: dict[str, str] = {}
        self._unsaved: dict[str, str] = {}  # run id -> why its final status could not be stored
        # Runs left 'running' by a process that ended (a crash, a restart) are settled before new ones start.
        self.interrupted_at_start: list[RunInfo] = store.mark_interrupted_runs()

    # -- starting -------------------------------------------------------------------------------
    def submit_classify(self, url: str, model: str, items: Sequence[Item], *, version: int | None = None,
                        label: str | None = None, session_id: str | None = None,
                        truth: Mapping[str, str] | None = None, truth_summary: str | None = None,
                        probe_labels: Sequence[str] = (), thumbnails: bool = True) -> str:
        """Queue a classify run; returns its id at once (status 'queued' until a worker takes it)."""
        items = list(items)
        if not items:
            raise ValueError("no files to classify: upload at least one image or ZIP archive")
        run = self.store.create_run(kind="classify", url=url, model=model, total=len(items), session_id=session_id,
                                    target=schema.target_text(version=version, label=label),
                                    truth_summary=truth_summary, thumbnails=thumbnails)
        job = Job(run.id, url, model, version, label, items, dict(truth or {}), tuple(probe_labels), thumbnails)
        self._start(job)
        return run.id

    def submit_compare(self, url: str, model: str, items: Sequence[Item],
                       targets: Sequence[tuple[int | None, str | None]], *, session_id: str | None = None,
                       truth: Mapping[str, str] | None = None, truth_summary: str | None = None,
                       probe_labels: Sequence[str] = ()) -> Comparison:
        """One run per (version, label) target over the same items, run side by side as one job (one worker
        slot); the first side keeps the thumbnails. Returns the stored comparison (baseline = first target)."""
        items = list(items)
        if len(targets) < 2 or not items:
            raise ValueError("a comparison needs at least two targets and one file")
        runs = [self.store.create_run(kind="compare", url=url, model=model, total=len(items), session_id=session_id,
                                      target=schema.target_text(version=v, label=lbl), truth_summary=truth_summary,
                                      thumbnails=i == 0) for i, (v, lbl) in enumerate(targets)]
        comparison = self.store.save_comparison(runs[0].id, [r.id for r in runs[1:]], session_id=session_id)
        sides = [Job(r.id, url, model, v, lbl, items, dict(truth or {}), tuple(probe_labels), i == 0, warm_up=True)
                 for i, (r, (v, lbl)) in enumerate(zip(runs, targets))]
        self._start(sides[0], sides=sides)
        return comparison

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
        if job.thumbnails:  # before the run stops being active: its thumbnails are pending all along
            self.thumbnail_pool.follow(job.run_id, outcome.thumbnails_stored, outcome.late_thumbnails)
        if outcome.status == "unsaved":
            with self._lock:
                self._unsaved[job.run_id] = outcome.error or "the final status could not be stored"
        if job.positions is None and job.items:
            self._keep_reusable(job.run_id, job.items)
        if outcome.failures and job.items:
            self._retain(job.run_id, _Retained(job.items, job.truth))
        else:
            self._release(job.run_id, "the run finished without failed rows")

    def _client_factory(self, job: Job) -> ClientFactory:
        if self.on_client is None:
            return self.client_factory

        def make(url: str, model: str) -> TFServingClient:
            client = self.client_factory(url, model)
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

    def cancel(self, run_id: str) -> bool:
        """Stop a queued or running run; rows already stored stay. False when it is not running here."""
        with self._lock:
            entry = self._active.get(run_id)
        if entry is None:
            return False
        entry.job.cancelled.set()
        return True

    def retry_failed(self, run_id: str) -> int:
        """Re-send only the failed rows (and any never sent) of a finished run, to the version that answered;
        returns how many. Raises RetryUnavailable saying why when it cannot."""
        run = self.store.get_run(run_id)
        if run is None:
            raise LookupError(f"run {run_id} is not stored")
        if self.is_active(run_id):
            raise RetryUnavailable(f"run {run_id} is still {run.status}; wait for it to finish or cancel it")
        with self._lock:
            kept = self._retained.pop(run_id, None)
        if kept is None:
            reason = self._released.get(run_id, "it was started by another dashboard process or before a restart")
            raise RetryUnavailable(f"the files of run {run_id} are no longer held ({reason}); upload them again "
                                   "to classify them")
        stored = set(self.store.run_rows(run_id).index)
        positions = sorted(set(self.store.failed_positions(run_id)) | (set(range(run.total)) - stored))
        if not positions:
            return 0
        asked = Target.parse(run.target)
        version, label = (run.version, None) if run.version is not None else (asked.version, asked.label)
        self.store.reopen_run(run_id)
        self._start(Job(run_id, run.url, run.model, version, label, kept.items, kept.truth, tuple(run.labels_at_start),
                        run.thumbnails, positions=positions))
        return len(positions)

    def items_of(self, run_id: str) -> list[Item]:
        """The (name, loader) items a finished run classified, for another run over the same images.
        Raises ItemsUnavailable saying why when they are no longer held."""
        if self.is_active(run_id):
            raise ItemsUnavailable(f"run {run_id} is still running; wait for it to finish")
        with self._lock:
            items = self._reusable.get(run_id)
            if items is None:
                kept = self._retained.get(run_id)
                items = kept.items if kept is not None else None
        if items is None:
            raise ItemsUnavailable(f"the images of run {run_id} are no longer held (only the newest "
                                   f"{self.keep_for_reuse} runs of this dashboard process keep them); upload them "
                                   "again")
        return list(items)

    def _keep_reusable(self, run_id: str, items: Sequence[Item]) -> None:
        with self._lock:
            self._reusable[run_id] = items
            self._reusable.move_to_end(run_id)
            while len(self._reusable) > self.keep_for_reuse:
                self._reusable.popitem(last=False)

    def release(self, run_id: str, reason: str = "released by the page") -> None:
        """Drop a run's uploaded files; after this, retry_failed and items_of say why they cannot run."""
        with self._lock:
            self._reusable.pop(run_id, None)
        self._release(run_id, reason)

    def _retain(self, run_id: str, kept: _Retained) -> None:
        with self._lock:
            self._retained[run_id] = kept
            self._retained.move_to_end(run_id)
            while len(self._retained) > self.keep_for_retry:
                oldest, _ = self._retained.popitem(last=False)
                self._released[oldest] = f"only the newest {self.keep_for_retry} runs with failures keep their files"

    def _release(self, run_id: str, reason: str) -> None:
        with self._lock:
            self._retained.pop(run_id, None)
            self._released[run_id] = reason

    def shutdown(self, *, wait: bool = True) -> None:
        """Cancel every run and stop the workers (the app is exiting); stored rows stay."""
        with self._lock:
            for entry in self._active.values():
                entry.job.cancelled.set()
        self._workers.shutdown(wait=wait, cancel_futures=False)
        self.thumbnail_pool.shutdown(wait=wait)

