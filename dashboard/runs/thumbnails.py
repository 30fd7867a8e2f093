"""Thumbnails for the run store, made off a run's critical path.

A run's rows never wait for their thumbnails (dashboard.runs.side): a row takes its thumbnail only if it is made by
the time the row is stored. The rest are handed to `follow` when the run ends and written into the stored rows
afterwards, on a thread of their own, about one transaction a second. A run therefore ends (final status, results
page) as soon as its predictions are stored; the page shows the thumbnails once they are all written.

A job's thumbnails wait while it classifies (`held_back`): made alongside its requests they would slow the run,
even at the lowest priority. Then they wait for the page to draw the finished run (`results_drawn`, at most
`draw_grace_s`): the nice below keeps them off the CPU, not off the interpreter lock the page's script and
Streamlit's server need while they draw it. They are made earlier when the budget below is full. Thumbnails are made
on `workers` threads at the lowest CPU priority (nice 19), so they take the CPU left over by what the analyst waits
for: the page, or other runs.

Memory: an image submitted for a thumbnail holds its bytes until its thumbnail is made. `submit` blocks (the
client's reading thread, so the run slows down instead of memory growing) while the images held would exceed
`budget_bytes` (THUMBNAIL_BUDGET_BYTES, 64 MiB, by default), across every run of the pool; a blocked submit first
starts making the waiting thumbnails, which frees their bytes. One image larger than the whole budget is admitted
when nothing else is held, so nothing waits forever.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping

from dashboard.runs.thumbnail_jpeg import thumbnail_jpeg
from client.store.database import Store, StoreError

__all__ = ["ThumbnailPool", "ByteBudget", "THUMBNAIL_BUDGET_BYTES", "made_or_none"]

THUMBNAIL_BUDGET_BYTES = 64 * 1024 * 1024
STORE_EVERY_S = 1.0
DRAW_GRACE_S = 1.0   # the most a finished run's drawing is waited for; with no page watching, start anyway
LOG = logging.getLogger(__name__)


def made_or_none(future: Future) -> bytes | None:
    """A finished thumbnail future's JPEG, or None when it failed: a missing thumbnail never costs a row."""
    try:
        return future.result(timeout=0)
    except Exception:  # noqa: BLE001
        return None


def _lowest_cpu_priority() -> None:
    # Thumbnails take only the CPU left over by what the analyst waits for (the page, a run's requests). Linux nices
    # each thread on its own; elsewhere the id below is no process id: leave it alone.
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass  # no priority to lower: thumbnails run at normal priority


def _make(data: bytes, future: Future) -> None:
    if future.set_running_or_notify_cancel():
        try:
            future.set_result(thumbnail_jpeg(data))
        except Exception as exc:  # noqa: BLE001 - the row's thumbnail is None (made_or_none)
            future.set_exception(exc)


class ByteBudget:
    """Bytes held at once: at most `limit`, or one item bigger than that alone."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._changed = threading.Condition()

    def take(self, size: int, when_full: Callable[[], None] = lambda: None) -> None:
        """Block until `size` more bytes fit (or nothing is held), then hold them. `when_full` runs before each
        wait (it must not block): e.g. start the work that gives bytes back."""
        with self._changed:
            while not (self.held == 0 or self.held + size <= self.limit):
                when_full()
                self._changed.wait()
            self.held += size

    def nudge(self) -> None:
        """Wake blocked takers to look again (what `when_full` can act on has changed)."""
        with self._changed:
            self._changed.notify_all()

    def give_back(self, size: int) -> None:
        with self._changed:
            self.held -= size
            self._changed.notify_all()


class _HeldJob:
    """The images of one job's thumbnails, held while it classifies and until its results are drawn (compared by
    identity)."""

    def __init__(self, run_ids: tuple[str, ...] = ()) -> None:
        self.run_ids = run_ids
        self.items: list[tuple[bytes, Future]] = []


@dataclass
class _Following:
    """One run's thumbnails after its rows: `already` were stored with the rows, `late` are written here."""
    already: int
    late: Mapping[int, Future]
    written: threading.Event = field(default_factory=threading.Event)

    def made(self) -> int:
        return self.already + sum(future.done() for future in self.late.values())


class ThumbnailPool:
    def __init__(self, store: Store, *, workers: int = 2, budget_bytes: int = THUMBNAIL_BUDGET_BYTES,
                 draw_grace_s: float | None = None) -> None:
        self.store = store
        self.draw_grace_s = DRAW_GRACE_S if draw_grace_s is None else draw_grace_s
        self.budget = ByteBudget(budget_bytes)
        self._makers = ThreadPoolExecutor(workers, thread_name_prefix="servescope-thumb",
                                          initializer=_lowest_cpu_priority)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="servescope-thumb-store")
        self._lock = threading.Lock()
        self._following: dict[str, _Following] = {}
        self._jobs: set[_HeldJob] = set()   # jobs classifying, each holding the images submitted meanwhile
        self._ended: set[_HeldJob] = set()  # jobs that ended, holding theirs until their results are drawn

    @contextmanager
    def held_back(self, run_ids: Iterable[str] = ()) -> Iterator[Callable[[bytes], Future]]:
        """A submit for one job (a run, or the sides of a comparison, `run_ids`): its thumbnails are made once the
        block ends and the page drew its results (`results_drawn`, or `draw_grace_s` later), or earlier when the
        budget is full, so neither its requests nor the page drawing its results share the CPU with them."""
        job = _HeldJob(tuple(run_ids))
        with self._lock:
            self._jobs.add(job)
        try:
            yield lambda data: self.submit(data, job)
        finally:
            with self._lock:
                self._jobs.discard(job)
                wait_for_drawing = bool(job.items and job.run_ids and self.draw_grace_s > 0)
                if wait_for_drawing:
                    self._ended.add(job)
            if wait_for_drawing:
                grace = threading.Timer(self.draw_grace_s, self._release, (job,))
                grace.daemon = True
                grace.start()
            else:
                self._release(job)

    def results_drawn(self, run_id: str) -> None:
        """The page drew run `run_id`'s results: its job's thumbnails may start now."""
        with self._lock:
            ended = [job for job in self._ended if run_id in job.run_ids]
        for job in ended:
            self._release(job)

    def _release(self, *jobs: _HeldJob) -> None:
        """Start the thumbnails these jobs hold (an ended one no longer waits for its drawing)."""
        with self._lock:
            self._ended.difference_update(jobs)
            waiting = [item for job in jobs for item in job.items]
            for job in jobs:
                job.items = []
        for data, future in waiting:
            self._start(data, future)

    def submit(self, data: bytes, job: _HeldJob | None = None) -> Future:
        """A future thumbnail of `data`, made at once or, for a `job` (held_back), once that job ends and its results
        are drawn. Blocks while the bytes held for thumbnails are over the budget."""
        size = len(data)
        self.budget.take(size, when_full=self._start_held)
        future: Future = Future()
        future.add_done_callback(lambda _: self.budget.give_back(size))
        with self._lock:
            hold = job in self._jobs
            if hold:
                job.items.append((data, future))
        if hold:
            self.budget.nudge()   # a submit blocked on the budget can start this one now
        else:
            self._start(data, future)
        return future

    def _start_held(self) -> None:
        """Start every held thumbnail: the budget is full, and making them frees their bytes."""
        with self._lock:
            held = self._jobs | self._ended
        self._release(*held)

    def _start(self, data: bytes, future: Future) -> None:
        try:
            self._makers.submit(_make, data, future)
        except RuntimeError:  # the app is shutting down: no thumbnail, but the row still goes on
            future.set_result(None)

    def follow(self, run_id: str, already: int, late: Mapping[int, Future]) -> None:
        """Write `late` (position -> future thumbnail) into run `run_id`'s stored rows as they are made.
        `already`: the run's thumbnails stored with their rows (counted in progress)."""
        following = _Following(already, dict(late))
        with self._lock:
            earlier = self._following.get(run_id)
            if not late and (earlier is None or earlier.written.is_set()):
                return
            self._following[run_id] = following
        self._writer.submit(self._write_when_made, run_id, following)

    def pending(self, run_id: str) -> bool:
        with self._lock:
            following = self._following.get(run_id)
        return following is not None and not following.written.is_set()

    def progress(self, run_id: str) -> tuple[int, int] | None:
        """(made, total) of a run whose thumbnails are still being written, else None."""
        with self._lock:
            following = self._following.get(run_id)
        if following is None or following.written.is_set():
            return None
        return following.made(), following.already + len(following.late)

    def wait(self, run_id: str, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a run's thumbnails to be written; True when none are pending."""
        with self._lock:
            following = self._following.get(run_id)
        return following is None or following.written.wait(timeout)

    def _write_when_made(self, run_id: str, following: _Following) -> None:
        positions = {future: position for position, future in following.late.items()}
        try:
            while positions:
                made, _ = wait(positions, timeout=STORE_EVERY_S)
                found = {}
                for future in made:
                    position = positions.pop(future)
                    if (data := made_or_none(future)) is not None:
                        found[position] = data
                if found:
                    try:
                        self.store.add_thumbnails(run_id, found)
                    except StoreError as exc:  # the rows stay, without these thumbnails
                        LOG.warning("thumbnails of run %s not stored: %s", run_id, exc)
        finally:
            following.written.set()
            with self._lock:
                if self._following.get(run_id) is following:
                    del self._following[run_id]

    def shutdown(self, *, wait: bool = True) -> None:
        self._start_held()
        self._makers.shutdown(wait=wait)
        self._writer.shutdown(wait=wait)
