"""A run's uploaded images kept in the image store once the run has its rows (client.store.images), off its
critical path. No Streamlit here.

An upload run started with keep_images keeps every image it could read, by the SHA-256 of its bytes (the same photo
in two uploads is stored once), at its row's position, so the run can be compared with other versions, opened at
full size, or saved as a dataset after this process has let its uploads go. The images are read again from the
run's loaders after its rows are stored, a batch at a time on one thread of their own (at most KEEP_BATCH_IMAGES
images or KEEP_BATCH_BYTES bytes held at once), so keeping never slows a run or its timings.

An image that cannot be read again costs its own position only. A full, unwritable or unreachable image store stops
keeping that run's images: what was kept stays, the run's rows are untouched, and `status(run_id)` says why in a
sentence that names the image and never a path or URL.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Sequence

from client.sources import Item
from client.store import ImageStore, Store, StoreError, open_image_store

__all__ = ["ImageKeeper", "KeepStatus", "KEEP_BATCH_BYTES", "KEEP_BATCH_IMAGES", "forget_unused_images"]

KEEP_BATCH_IMAGES = 64
KEEP_BATCH_BYTES = 16 * 1024 * 1024
LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeepStatus:
    """How far keeping one run's images got: `kept` of `total`, `unreadable` left out, `error` when it stopped."""
    total: int
    kept: int = 0
    unreadable: int = 0
    error: str | None = None
    done: bool = False

    def text(self) -> str:
        """"Images kept in the image store: 48 of 50 (2 could not be read again)." or why they were not."""
        if self.error is not None:
            return (f"Only {self.kept:,} of {self.total:,} image(s) were kept in the image store: {self.error}. "
                    "The run's results are complete; the images not kept cannot be opened at full size or "
                    "compared again without a new upload.")
        if not self.done:
            return f"Keeping the images in the image store: {self.kept:,} of {self.total:,} so far."
        unreadable = f" ({self.unreadable:,} could not be read again)" if self.unreadable else ""
        return f"Images kept in the image store: {self.kept:,} of {self.total:,}{unreadable}."


class ImageKeeper:
    """Keeps runs' images in `images`, one run after another on one thread. Thread-safe."""

    def __init__(self, images: ImageStore, *, batch_images: int = KEEP_BATCH_IMAGES,
                 batch_bytes: int = KEEP_BATCH_BYTES) -> None:
        self.images = images
        self.batch_images, self.batch_bytes = batch_images, batch_bytes
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="servescope-keep")
        self._lock = threading.Lock()
        self._status: dict[str, KeepStatus] = {}
        self._futures: dict[str, Future] = {}

    def keep(self, run_id: str, items: Sequence[Item]) -> None:
        """Queue the run's (name, loader) items, kept at their positions (0, 1, …)."""
        with self._lock:
            self._status[run_id] = KeepStatus(total=len(items))
            self._futures[run_id] = self._worker.submit(self._keep, run_id, list(items))

    def status(self, run_id: str) -> KeepStatus | None:
        """How keeping the run's images went in this process; None when it kept none here."""
        with self._lock:
            return self._status.get(run_id)

    def wait(self, run_id: str, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the run's images to be kept; True when done (or none were queued)."""
        with self._lock:
            future = self._futures.get(run_id)
        if future is None:
            return True
        try:
            future.result(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def shutdown(self, *, wait: bool = True) -> None:
        self._worker.shutdown(wait=wait, cancel_futures=not wait)

    def _set(self, run_id: str, **changes: object) -> None:
        with self._lock:
            self._status[run_id] = replace(self._status[run_id], **changes)

    def _keep(self, run_id: str, items: list[Item]) -> None:
        kept = unreadable = 0
        batch: dict[int, tuple[str, bytes]] = {}
        held = 0
        try:
            for position, (name, load) in enumerate(items):
                try:
                    data = bytes(load())
                except Exception:  # noqa: BLE001 - its row already says what is wrong with it
                    unreadable += 1
                    continue
                if not data:
                    unreadable += 1
                    continue
                batch[position] = (name, data)
                held += len(data)
                if len(batch) >= self.batch_images or held >= self.batch_bytes:
                    kept += self.images.keep_run_images(run_id, batch)
                    batch, held = {}, 0
                    self._set(run_id, kept=kept, unreadable=unreadable)
            if batch:
                kept += self.images.keep_run_images(run_id, batch)
            self._set(run_id, kept=kept, unreadable=unreadable, done=True)
        except (StoreError, ValueError) as exc:
            # The image store's messages name the image and why (full, unwritable); never a path or a URL.
            LOG.warning("stopped keeping the images of run %s: %s", run_id, exc)
            self._set(run_id, kept=kept, unreadable=unreadable, error=str(exc), done=True)
        except Exception as exc:  # noqa: BLE001 - a keeper thread never dies silently
            LOG.exception("keeping the images of run %s failed", run_id)
            self._set(run_id, kept=kept, unreadable=unreadable, error=f"{type(exc).__name__}: {exc}", done=True)


def forget_unused_images(store: Store) -> int:
    """After runs were deleted: delete the images of the store's image store (SERVESCOPE_BLOBS) that no dataset and
    no run uses any more; how many. A failure is logged (they go at the next deletion)."""
    try:
        return len(open_image_store(store, quota_bytes=None).collect_garbage())
    except StoreError as exc:
        LOG.warning("unused images were not deleted from the image store: %s", exc)
        return 0
