"""Run leases: the process running a run holds it by renewing its lease; a run whose lease expired is interrupted by
whichever dashboard (replica) sees it first, its stored rows kept.

A RunManager creates each run with a lease of `expiry_s` seconds (config.lease_timing: SERVESCOPE_LEASE_EXPIRY_S,
default 30) and its LeaseKeeper renews the leases of the manager's queued and running runs every `renew_s` seconds
(SERVESCOPE_LEASE_RENEW_S, default 5). On every round it also interrupts the runs of any process whose leases
expired (Store.interrupt_expired_leases). With PostgreSQL the database's clock stamps and checks every lease, so the
replicas' own clocks need not agree.

A run of this process that was settled elsewhere (the lease expired while the store was unreachable or the process
stalled) is stopped here: its job is cancelled with the reason, and it ends 'interrupted'.
"""
from __future__ import annotations

import logging
import threading
import weakref
from typing import Callable, Mapping

from dashboard.runs.side import Job
from client.store.database import RunInfo, Store, StoreError

__all__ = ["LeaseKeeper", "LEASE_LOST"]

LOG = logging.getLogger("servescope.runs")
LEASE_LOST = ("its lease expired before this dashboard could renew it (the run store was unreachable or the process "
              "stalled), so another dashboard marked it interrupted")


class LeaseKeeper:
    """Renews the leases of `jobs()` (run id -> Job of the runs this process holds) every `renew_s` seconds and
    interrupts other processes' runs whose leases expired. `jobs` is held weakly when it is a bound method: the
    keeper's thread ends once its manager is gone, or on stop()."""

    def __init__(self, store: Store, jobs: Callable[[], Mapping[str, Job]], *, renew_s: float,
                 expiry_s: float) -> None:
        self.store, self.renew_s, self.expiry_s = store, renew_s, expiry_s
        self._jobs = weakref.WeakMethod(jobs) if hasattr(jobs, "__self__") else (lambda: jobs)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.settled: list[RunInfo] = []     # other processes' runs this keeper interrupted, oldest first
        self._thread = threading.Thread(target=self._loop, name="servescope-leases", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def round(self) -> bool:
        """One renewal of this process's leases and one check of everyone's; False once the manager is gone.
        Raises StoreError when the store cannot be reached (the leases are renewed on the next round)."""
        jobs_of = self._jobs()
        if jobs_of is None:
            return False
        jobs = dict(jobs_of())
        del jobs_of
        if jobs:
            renewed = self.store.renew_leases(list(jobs), lease_s=self.expiry_s)
            for run_id, job in jobs.items():
                if run_id not in renewed and not job.cancelled.is_set():
                    job.lease_lost = f"run {run_id} stopped here: {LEASE_LOST}"
                    job.cancelled.set()
        settled = self.store.interrupt_expired_leases()
        if settled:
            with self._lock:
                self.settled = (self.settled + settled)[-100:]
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.renew_s):
            try:
                if not self.round():
                    return
            except StoreError as exc:
                LOG.warning("could not renew or check run leases (next try in %.0f s): %s", self.renew_s, exc)
            except Exception:  # noqa: BLE001 - the keeper must outlive any one failed round
                LOG.exception("run lease round failed")
