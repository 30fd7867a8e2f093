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
(dashboard.runs.uploads). A comparison's sides run side by side; once they have ended, its latency probe times each
side alone (dashboard.runs.latency_probe, `probe_progress`) before the job ends. With an image store (`images`), an
upload run started with keep_images keeps its images there once its rows are stored (dashboard.runs.keeping), and
`items_of` falls back to them, or to the dataset version a run used, after this process has let the uploads go.

Each run records the browser that started it (`started_by`, dashboard.runs.ownership) and is held by a lease this
process renews (dashboard.runs.leases): at start and every few seconds after, runs whose lease expired, or whose
process on this host has ended, are marked interrupted. cancel, retry_failed and items_of take the visitor asking
(`by`) and refuse with NotAllowed (cancel, retry) or ItemsUnavailable (items_of) when it may not; without `by` the
caller is this process itself (a script, a test).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from client import ModelProfile, TFServingClient, schema
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from client.sources import Item
from dashboard.config import PREDICT_TIMEOUT_S, lease_timing
from dashboard.runs.latency_probe import PROBE_ROUNDS, LatencyProbe, probe_sides
from dashboard.runs.keeping import ImageKeeper, KeepStatus
from dashboard.runs.leases import LeaseKeeper
from dashboard.runs.ownership import Actor
from dashboard.runs.side import ClientFactory, Job, SideResult, run_side
from dashboard.runs.thumbnails import THUMBNAIL_BUDGET_BYTES, ThumbnailPool
from dashboard.runs.uploads import ItemsUnavailable, KeptUploads, RetryUnavailable
from client.store import Datasets, DatasetVersion, ImageStore, StoreError
from client.store.database import Comparison, RunInfo, Store
from dashboard.server.profiles import ProfileChooser
from dashboard.targets import Target

__all__ = ["RunManager", "Progress", "RetryUnavailable", "ItemsUnavailable", "ClientFactory",
           "max_runs_from_env"]

LOG = logging.getLogger("servescope.dashboard")
CHOOSERS_KEPT = 256   # runs whose profile chooser is kept for a retry of a run that stored no profile


def max_runs_from_env() -> int:
    text = os.environ.get("SERVESCOPE_MAX_RUNS", "2")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"SERVESCOPE_MAX_RUNS must be a whole number >= 1, not {text!r}")
    return int(text)


def default_client(url: str, model: str, *, profile: ModelProfile | None = None) -> TFServingClient:
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
                 lease_renew_s: float | None = None, lease_expiry_s: float | None = None,
                 images: ImageStore | None = None) -> None:
        """`lease_renew_s`/`lease_expiry_s`: how often this process renews its runs' leases and how long one lasts
        (default: config.lease_timing, from SERVESCOPE_LEASE_RENEW_S and SERVESCOPE_LEASE_EXPIRY_S). `images`: the
        image store that keeps upload runs' images (dashboard.runs.keeping) and holds datasets' (None: no run keeps
        its images, and only this process's uploads can be reused)."""
        self.store = store
        self.images = images
        self.keeper = ImageKeeper(images) if images is not None else None
        self.datasets = Datasets(store, images) if images is not None else None
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
        self._probing: dict[str, tuple[int, int]] = {}  # comparison id -> (requests timed, of) while it runs
        self._choosers: OrderedDict[str, ProfileChooser] = OrderedDict()  # run id -> how it picks its profile
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
                        started_by: str | None = None, dataset: DatasetVersion | None = None,
                        keep_images: bool = True, profiles: ProfileChooser | None = None) -> str:
        """Queue a classify run; returns its id at once (status 'queued' until a worker takes it). `started_by`:
        the digest of the starting browser's token (dashboard.runs.ownership), None when no browser started it.
        `dataset`: the dataset version `items` are (Datasets.sources; its rows then sit at the items' positions);
        `keep_images`: an upload's images are kept in the image store after the run (never a dataset's: it has
        them). `profiles`: how the run picks its model profile (dashboard.server.profiles); None: the client's
        default."""
        items = list(items)
        if not items:
            raise ValueError("no files to classify: upload at least one image or ZIP archive")
        keep = self._keeps(keep_images, dataset)
        run = self.store.create_run(kind="classify", url=url, model=model, total=len(items), session_id=session_id,
                                    target=schema.target_text(version=version, label=label),
                                    truth_summary=truth_summary, thumbnails=thumbnails, started_by=started_by,
                                    lease_s=self.lease_expiry_s, dataset=dataset, keep_images=keep)
        job = Job(run.id, url, model, version, label, items, dict(truth or {}), tuple(probe_labels), thumbnails,
                  keep_images=keep, profiles=profiles)
        self._start(job)
        return run.id

    def submit_compare(self, url: str, model: str, items: Sequence[Item],
                       targets: Sequence[Target | tuple[int | None, str | None]], *, session_id: str | None = None,
                       truth: Mapping[str, str] | None = None, truth_summary: str | None = None,
                       probe_labels: Sequence[str] = (), started_by: str | None = None,
                       dataset: DatasetVersion | None = None, keep_images: bool = True,
                       reuse: Mapping[int, str] | None = None,
                       profiles: ProfileChooser | Sequence[ProfileChooser | None] | None = None) -> Comparison:
        """One run per target (a Target, or a (version, label) pair) over the same items, run side by side as one
        job (one worker slot); the first side run keeps the thumbnails and (`keep_images`, an upload) the images.
        Returns the stored comparison (baseline = first target). `reuse`: target index -> a stored finished run of
        that target on the same images (a dataset version, or the run the images came from), which stands for that
        side instead of a new run; at least one target is run. `profiles`: how every side picks its model profile,
        or one chooser per target (in order); a Target that carries a profile is classified with that profile
        (a fixed ProfileChooser), whatever `profiles` says, so two targets may be the same version with different
        profiles."""
        items = list(items)
        reuse = dict(reuse or {})
        targets = [t if isinstance(t, Target) else Target(*t) for t in targets]
        if len(targets) < 2 or not items:
            raise ValueError("a comparison needs at least two targets and one file")
        if missing := [t.describe() for t in targets if t.profile_digest is not None and t.profile is None]:
            raise ValueError(f"the profile itself is needed to run {', '.join(missing)}")
        if not set(range(len(targets))) - set(reuse) or not set(reuse) <= set(range(len(targets))):
            raise ValueError("reuse names runs for some of the targets, leaving at least one to run")
        choosers = list(profiles) if isinstance(profiles, Sequence) else [profiles] * len(targets)
        if len(choosers) != len(targets):
            raise ValueError(f"{len(choosers)} profile choosers for {len(targets)} targets")
        choosers = [(c or ProfileChooser(model)).for_target(t) if t.profile is not None else c
                    for t, c in zip(targets, choosers)]
        keep = self._keeps(keep_images, dataset)
        fresh = [i for i in range(len(targets)) if i not in reuse]
        runs = {i: self.store.create_run(kind="compare", url=url, model=model, total=len(items), session_id=session_id,
                                         target=targets[i].text,
                                         truth_summary=truth_summary, thumbnails=i == fresh[0], started_by=started_by,
                                         lease_s=self.lease_expiry_s, dataset=dataset,
                                         keep_images=keep and i == fresh[0])
                for i in fresh}
        order = [reuse[i] if i in reuse else runs[i].id for i in range(len(targets))]
        comparison = self.store.save_comparison(order[0], order[1:], session_id=session_id)
        # Every side, reused ones included, is timed by the latency probe; only the fresh ones run.
        every_side = [Job(order[i], url, model, targets[i].version, targets[i].label, items, dict(truth or {}),
                          tuple(probe_labels), i == fresh[0], warm_up=True, keep_images=keep and i == fresh[0],
                          profiles=choosers[i])
                      for i in range(len(targets))]
        sides = [every_side[i] for i in fresh]
        self._start(sides[0], sides=sides, comparison_id=comparison.id, probe_jobs=every_side)
        return comparison

    def _keeps(self, keep_images: bool, dataset: DatasetVersion | None) -> bool:
        return keep_images and dataset is None and self.keeper is not None

    def _start(self, job: Job, *, sides: Sequence[Job] | None = None, comparison_id: str | None = None,
               probe_jobs: Sequence[Job] | None = None) -> None:
        entries = [_Active(side) for side in (sides or [job])]
        with self._lock:
            for entry in entries:
                self._active[entry.job.run_id] = entry
                if entry.job.profiles is not None:
                    self._choosers[entry.job.run_id] = entry.job.profiles
                    while len(self._choosers) > CHOOSERS_KEPT:
                        self._choosers.popitem(last=False)
        future = self._workers.submit(self._work, entries, comparison_id, probe_jobs)
        for entry in entries:
            entry.future = future

    # -- the worker ------------------------------------------------------------------------------
    def _work(self, entries: list[_Active], comparison_id: str | None = None,
              probe_jobs: Sequence[Job] | None = None) -> None:
        try:
            # The job's thumbnails are made after it (its sides' requests keep the CPU) and after the page drew its
            # results (results_drawn), or when memory requires.
            with self.thumbnail_pool.held_back(entry.job.run_id for entry in entries) as thumbnailer:
                if len(entries) == 1:
                    self._run_one(entries[0], thumbnailer)
                else:
                    with ThreadPoolExecutor(len(entries), thread_name_prefix="servescope-side") as sides:
                        list(sides.map(lambda entry: self._run_one(entry, thumbnailer), entries))
                if comparison_id is not None:   # the sides stay active (and their thumbnails wait) until it ends
                    self._probe_latency(comparison_id, probe_jobs or [entry.job for entry in entries])
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
        if job.keep_images and job.positions is None and self.keeper is not None:
            self.keeper.keep(job.run_id, job.items)   # after its rows: keeping never slows the run down
        self.uploads.ended(job.run_id, job.items, job.truth, first_pass=job.positions is None,
                           failures=outcome.failures)

    def _probe_latency(self, comparison_id: str, jobs: Sequence[Job]) -> None:
        """Time each side alone on the same few images (dashboard.runs.latency_probe) and keep the record with the
        comparison; a probe that cannot be made is kept as its reason. Nothing is probed after Cancel."""
        if any(job.cancelled.is_set() for job in jobs):
            return
        with self._lock:
            self._probing[comparison_id] = (0, 0)

        def progress(done: int, total: int) -> None:
            with self._lock:
                self._probing[comparison_id] = (done, total)

        try:
            probe = probe_sides(self.store, self.client_factory, jobs, on_request=progress,
                                stop=lambda: any(job.cancelled.is_set() for job in jobs))
        except Exception as exc:  # noqa: BLE001 - the comparison stands without it; the page says why
            LOG.exception("the latency probe of comparison %s failed", comparison_id)
            probe = LatencyProbe(PROBE_ROUNDS, (), (), error=f"{type(exc).__name__}: {exc}")
        try:
            self.store.save_latency_probe(comparison_id, probe.to_json())
        except Exception:  # noqa: BLE001 - a store failure here costs only the cost row
            LOG.exception("the latency probe of comparison %s could not be stored", comparison_id)
        finally:
            with self._lock:
                self._probing.pop(comparison_id, None)

    def probe_progress(self, comparison_id: str) -> tuple[int, int] | None:
        """(requests timed, of how many) while the comparison's latency probe runs here, else None."""
        with self._lock:
            return self._probing.get(comparison_id)

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
        kept = self.uploads.take_for_retry(run_id)
        stored = set(self.store.run_rows(run_id).index)
        positions = sorted(set(self.store.failed_positions(run_id)) | (set(range(run.total)) - stored))
        if not positions:
            return 0
        asked = Target.parse(run.target)
        version, label = (run.version, None) if run.version is not None else (asked.version, asked.label)
        with self._lock:
            chooser = self._choosers.get(run_id)
        if run.profile is not None or chooser is None:   # the profile the run used (or, none stored, as it chose)
            chooser = ProfileChooser.stored(run.model, run.profile)
        self.store.reopen_run(run_id, lease_s=self.lease_expiry_s)
        self._start(Job(run_id, run.url, run.model, version, label, kept.items, kept.truth, tuple(run.labels_at_start),
                        run.thumbnails, positions=positions, profiles=chooser))
        return len(positions)

    def items_of(self, run_id: str, *, by: Actor | None = None) -> list[Item]:
        """The (name, loader) items a finished run classified, for another run over the same images: the uploads
        this process still holds, else the images the run kept in the image store, else its dataset version's.
        Raises ItemsUnavailable saying why when there are none, or they are not `by`'s to reuse (an upload's images
        are its browser's; a dataset's are everyone's)."""
        run = self.store.get_run(run_id)
        if by is not None and run is not None and run.dataset_id is None and not by.may_see_private(run):
            raise ItemsUnavailable(f"the images of run {run_id} belong to the browser that started it: upload "
                                   "them to compare them")
        if self.is_active(run_id):
            raise ItemsUnavailable(f"run {run_id} is still running; wait for it to finish")
        try:
            return self.uploads.reusable(run_id)
        except ItemsUnavailable as held:
            if run is None or self.datasets is None or (run.dataset_id is None and not run.keep_images):
                raise
            if self.keeper is not None and not self.keeper.wait(run_id, 0):
                raise ItemsUnavailable(f"the images of run {run_id} are still being kept in the image store; try "
                                       "again in a moment") from None
            try:
                return self.datasets.run_items(run_id)
            except StoreError as exc:
                raise ItemsUnavailable(f"{held}; the image store has none of them either: {exc}") from None

    def kept_images(self, run_id: str) -> KeepStatus | None:
        """How keeping an upload run's images went in this process (None: it kept none here)."""
        return self.keeper.status(run_id) if self.keeper is not None else None

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
        if self.keeper is not None:
            self.keeper.shutdown(wait=wait)

