"""The uploaded files of ended runs, held in this process's memory for a while (no Streamlit, no store).

A run's (name, loader) items are kept after it ends for two uses: retrying its failed rows (the newest
`keep_for_retry` runs that ended with failures keep them, with their ground truth) and another run over the same
images (the newest `keep_for_reuse` runs: Compare with… from a Classify result). Whatever is no longer held is
refused with the reason (RetryUnavailable, ItemsUnavailable).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping, Sequence

from client.sources import Item

__all__ = ["KeptUploads", "Retained", "RetryUnavailable", "ItemsUnavailable"]


class RetryUnavailable(RuntimeError):
    """retry_failed cannot run; the message says why (e.g. the uploads were released)."""


class ItemsUnavailable(LookupError):
    """items_of cannot hand a run's images out; the message says why."""


@dataclass
class Retained:
    items: Sequence[Item]
    truth: Mapping[str, str]


class KeptUploads:
    """Thread-safe; run ids map to the items they classified, newest last."""

    def __init__(self, *, keep_for_retry: int, keep_for_reuse: int) -> None:
        self.keep_for_retry, self.keep_for_reuse = keep_for_retry, keep_for_reuse
        self._lock = threading.Lock()
        self._reusable: OrderedDict[str, Sequence[Item]] = OrderedDict()
        self._retained: OrderedDict[str, Retained] = OrderedDict()
        self._released: dict[str, str] = {}

    def ended(self, run_id: str, items: Sequence[Item], truth: Mapping[str, str], *, first_pass: bool,
              failures: int) -> None:
        """A pass over `items` ended: keep them for reuse (a first pass) and for a retry (when rows failed)."""
        with self._lock:
            if first_pass and items:
                self._reusable[run_id] = items
                self._reusable.move_to_end(run_id)
                while len(self._reusable) > self.keep_for_reuse:
                    self._reusable.popitem(last=False)
            if failures and items:
                self._retained[run_id] = Retained(items, truth)
                self._retained.move_to_end(run_id)
                while len(self._retained) > self.keep_for_retry:
                    oldest, _ = self._retained.popitem(last=False)
                    self._released[oldest] = (f"only the newest {self.keep_for_retry} runs with failures keep their "
                                              "files")
            else:
                self._retained.pop(run_id, None)
                self._released[run_id] = "the run finished without failed rows"

    def take_for_retry(self, run_id: str) -> Retained:
        """The run's items and truth, no longer held for another retry; RetryUnavailable saying why when gone."""
        with self._lock:
            kept = self._retained.pop(run_id, None)
            reason = self._released.get(run_id, "it was started by another dashboard process or before a restart")
        if kept is None:
            raise RetryUnavailable(f"the files of run {run_id} are no longer held ({reason}); upload them again "
                                   "to classify them")
        return kept

    def reusable(self, run_id: str) -> list[Item]:
        """The items the run classified; ItemsUnavailable saying why when they are no longer held."""
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

    def release(self, run_id: str, reason: str) -> None:
        with self._lock:
            self._reusable.pop(run_id, None)
            self._retained.pop(run_id, None)
            self._released[run_id] = reason
