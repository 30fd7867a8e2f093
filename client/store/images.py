"""The image store: uploaded images kept by the SHA-256 of their bytes, indexed in the run store's `blobs` table.

    images = open_image_store(store)                 # SERVESCOPE_BLOBS, SERVESCOPE_BLOBS_QUOTA_MB
    [stored] = images.put_many([("cat/1.jpg", data)])  # stored.sha256; the same bytes again are not stored again
    images.read(stored.sha256, "cat/1.jpg")          # the bytes, checked against their hash

An image is stored once however many datasets and runs use it; dataset items and a run's kept images reference its
row, and the database refuses to drop a row still referenced, so collect_garbage() deletes exactly the images
nothing uses (whatever runs at the same time on other processes or hosts sharing the store). Storing checks the
quota (SERVESCOPE_BLOBS_QUOTA_MB, megabytes of 1,000,000 bytes; unset: none) against the bytes the index lists, and
writes again an object the index lists but the store lost. Every failure is an ImageStoreError naming the image:
ImageStoreFullError when the quota would be passed, MissingImageError when an object is gone.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from client.sources import MAX_FILE_BYTES
from client.store.blobs import BlobBackend, blob_key, open_blobs
from client.store.database import Store
from client.store.engine import LOG
from client.store.records import StoreError
from client.store.tables import blobs, dataset_items, run_images

__all__ = ["ImageStore", "ImageStoreError", "ImageStoreFullError", "ImageStoreUsage", "MissingImageError",
           "QUOTA_VARIABLE", "StoredImage", "open_image_store", "quota_from_env", "sha256_of"]

QUOTA_VARIABLE = "SERVESCOPE_BLOBS_QUOTA_MB"
MEGABYTE = 1_000_000
_CHUNK = 500   # hashes per IN list


class ImageStoreError(StoreError):
    """An image the image store could not store or read; the message names it and says why."""


class ImageStoreFullError(ImageStoreError):
    """Storing the image would pass the image store's quota."""


class MissingImageError(ImageStoreError):
    """The image store has lost the image's object (deleted behind its back, or by a concurrent dataset deletion)."""


@dataclass(frozen=True)
class StoredImage:
    name: str
    sha256: str
    size_bytes: int
    new: bool            # this call wrote it; False: the store already held these bytes


@dataclass(frozen=True)
class ImageStoreUsage:
    images: int
    bytes: int
    quota_bytes: int | None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def quota_from_env() -> int | None:
    """SERVESCOPE_BLOBS_QUOTA_MB in bytes (None when unset or empty); StoreError for anything but a number > 0."""
    value = os.environ.get(QUOTA_VARIABLE, "").strip()
    if not value:
        return None
    try:
        megabytes = float(value)
    except ValueError:
        megabytes = float("nan")
    if not megabytes > 0 or megabytes == float("inf"):
        raise StoreError(f"{QUOTA_VARIABLE} must be a number of megabytes > 0, not {value[:40]!r}")
    return int(megabytes * MEGABYTE)


def _why(exc: OSError) -> str:
    """An OSError's reason without its path."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    text = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    first_word = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first_word[1:].islower() else text   # "Not a directory", not a class name


def _dialect_insert(dialect: str, table):
    """INSERT with ON CONFLICT support, for PostgreSQL or SQLite."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _megabytes(size: int) -> str:
    """"48.2 MB", "5.3 kB", "812 bytes"."""
    if size >= MEGABYTE:
        return f"{size / MEGABYTE:,.1f} MB"
    return f"{size / 1000:,.1f} kB" if size >= 1000 else f"{size} bytes"


def _names(images: Sequence[tuple[str, Any]]) -> str:
    return images[0][0] + (f" (and {len(images) - 1} other image(s))" if len(images) > 1 else "")


class ImageStore:
    """The image store of one run store (its `blobs` index) and one backend (client.store.blobs). Thread-safe."""

    def __init__(self, store: Store, backend: BlobBackend, *, quota_bytes: int | None = None) -> None:
        self.store, self.backend, self.quota_bytes = store, backend, quota_bytes

    # -- storing ----------------------------------------------------------------------------------------------
    def put(self, name: str, data: bytes) -> StoredImage:
        return self.put_many([(name, data)])[0]

    def put_many(self, images: Sequence[tuple[str, bytes]]) -> list[StoredImage]:
        """Store (name, bytes) pairs in one transaction, each distinct content once; returns one StoredImage per
        pair, in order. Raises ImageStoreFullError (nothing of this call is kept) when the quota would be passed,
        ImageStoreError when the store cannot be written."""
        hashed = [(name, data, sha256_of(data)) for name, data in images]
        if not hashed:
            return []
        wanted: dict[str, tuple[str, bytes]] = {}
        for name, data, sha in hashed:
            wanted.setdefault(sha, (name, data))
        with self.store._write(f"store {len(wanted)} image(s)") as conn:
            # Existing rows are locked in hash order (as collect_garbage locks them): a concurrent deletion waits, or
            # has already removed them and they are stored anew.
            known = dict(conn.execute(select(blobs.c.sha256, blobs.c.size_bytes).where(blobs.c.sha256.in_(
                sorted(wanted))).order_by(blobs.c.sha256).with_for_update()).all())
            fresh = {sha: pair for sha, pair in wanted.items() if sha not in known}
            self._check_quota(conn, fresh)
            lost = {sha: wanted[sha] for sha in known if self._object_size(sha, wanted[sha][0]) != known[sha]}
            to_write = {**fresh, **lost}
            if to_write:
                try:
                    self.backend.write({blob_key(sha): data for sha, (_, data) in to_write.items()})
                except OSError as exc:
                    LOG.error("could not write to the image store %s: %s", self.backend.location, exc)
                    raise ImageStoreError(f"could not store {_names(list(to_write.values()))} in the image store: "
                                          f"{_why(exc)}") from None
            if fresh:
                now = datetime.now(timezone.utc)
                # Another process may have stored the same new image meanwhile: its row is as good as ours.
                conn.execute(_dialect_insert(conn.dialect.name, blobs).on_conflict_do_nothing(),
                             [{"sha256": sha, "size_bytes": len(data), "stored_at": now}
                              for sha, (_, data) in fresh.items()])
        return [StoredImage(name, sha, len(data), sha in to_write and wanted[sha][0] == name)
                for name, data, sha in hashed]

    def _check_quota(self, conn, fresh: Mapping[str, tuple[str, bytes]]) -> None:
        if self.quota_bytes is None or not fresh:
            return
        used = int(conn.execute(select(func.coalesce(func.sum(blobs.c.size_bytes), 0))).scalar_one())
        total = used
        for name, data in fresh.values():
            total += len(data)
            if total > self.quota_bytes:
                raise ImageStoreFullError(
                    f"the image store is full: {name} ({_megabytes(len(data))}) does not fit, {_megabytes(used)} of "
                    f"its {_megabytes(self.quota_bytes)} quota are used ({len(fresh)} new image(s) in this batch); "
                    "delete datasets or runs that kept their images, or raise SERVESCOPE_BLOBS_QUOTA_MB")

    def _object_size(self, sha: str, name: str) -> int | None:
        try:
            return self.backend.size(blob_key(sha))
        except OSError as exc:
            raise ImageStoreError(f"could not check {name} in the image store: {_why(exc)}") from None

    # -- reading ----------------------------------------------------------------------------------------------
    def read(self, sha256: str, name: str) -> bytes:
        """The image's bytes, checked against their hash. MissingImageError when the object is gone,
        ImageStoreError when it cannot be read or no longer matches its hash; both name the image."""
        try:
            data = self.backend.read(blob_key(sha256), MAX_FILE_BYTES)
        except FileNotFoundError:
            raise MissingImageError(f"{name}: its image (sha256 {sha256[:12]}…) is missing from the image store"
                                    ) from None
        except OSError as exc:
            LOG.error("could not read %s from the image store %s: %s", sha256, self.backend.location, exc)
            raise ImageStoreError(f"{name}: could not read its image from the image store: {_why(exc)}") from None
        if sha256_of(data) != sha256:
            raise ImageStoreError(f"{name}: its image in the image store is damaged (its bytes no longer match "
                                  f"sha256 {sha256[:12]}…)")
        return data

    def loader(self, sha256: str, name: str) -> Callable[[], bytes]:
        """A client.sources.Loader reading the image when called."""
        return lambda: self.read(sha256, name)

    def usage(self) -> ImageStoreUsage:
        with self.store._read("measure the image store") as conn:
            count, size = conn.execute(select(func.count(), func.coalesce(func.sum(blobs.c.size_bytes), 0))).one()
        return ImageStoreUsage(int(count), int(size), self.quota_bytes)

    def indexed(self, hashes: Iterable[str]) -> set[str]:
        """Those of `hashes` the index lists."""
        wanted, found = sorted(set(hashes)), set()
        with self.store._read("look up stored images") as conn:
            for start in range(0, len(wanted), _CHUNK):
                found |= set(conn.execute(select(blobs.c.sha256).where(
                    blobs.c.sha256.in_(wanted[start:start + _CHUNK]))).scalars())
        return found

    # -- runs' own images ---------------------------------------------------------------------------------------
    def keep_run_images(self, run_id: str, images: Mapping[int, tuple[str, bytes]]) -> int:
        """Store the images of a run (position -> (name, bytes)) and link them to it, replacing what a position had;
        returns how many. ValueError for a run created with keep_images=False (nothing is stored for it)."""
        run = self.store.get_run(run_id)
        if run is None:
            raise StoreError(f"run {run_id} is not in the run store")
        if not run.keep_images:
            raise ValueError(f"run {run_id} does not keep its images (it was started with keep_images=False)")
        if not images:
            return 0
        positions = sorted(images)
        for attempt in (1, 2):
            stored = self.put_many([images[position] for position in positions])
            links = [{"run_id": run_id, "position": int(position), "sha256": image.sha256}
                     for position, image in zip(positions, stored)]
            try:
                with self.store._write(f"link {len(links)} image(s) to run {run_id}") as conn:
                    conn.execute(delete(run_images).where((run_images.c.run_id == run_id)
                                                          & run_images.c.position.in_(positions)))
                    conn.execute(insert(run_images), links)
                return len(links)
            except StoreError as exc:
                if attempt == 2 or not isinstance(exc.__cause__, IntegrityError):
                    raise
                # an image was deleted as unused between storing and linking it: store it again
        raise AssertionError("unreachable")

    def run_images(self, run_id: str) -> dict[int, str]:
        """position -> SHA-256 of the images a run kept."""
        with self.store._read(f"read the kept images of run {run_id}") as conn:
            return dict(conn.execute(select(run_images.c.position, run_images.c.sha256)
                                     .where(run_images.c.run_id == run_id)).all())

    # -- deleting -----------------------------------------------------------------------------------------------
    def collect_garbage(self, candidates: Iterable[str] | None = None) -> list[str]:
        """Delete the images no dataset item and no run references (among `candidates`, else all of them), objects
        and index rows; returns their hashes. ImageStoreError when objects cannot be deleted (their rows stay)."""
        unused = (~select(dataset_items.c.sha256).where(dataset_items.c.sha256 == blobs.c.sha256).exists()
                  & ~select(run_images.c.sha256).where(run_images.c.sha256 == blobs.c.sha256).exists())
        query = select(blobs.c.sha256).where(unused).order_by(blobs.c.sha256).with_for_update()
        deleted: list[str] = []
        if candidates is None:
            while True:
                found = self._delete_unused(query.limit(_CHUNK))
                deleted += found
                if len(found) < _CHUNK:
                    return deleted
        listed = sorted(set(candidates))
        for start in range(0, len(listed), _CHUNK):
            deleted += self._delete_unused(query.where(blobs.c.sha256.in_(listed[start:start + _CHUNK])))
        return deleted

    def _delete_unused(self, query) -> list[str]:
        for attempt in (1, 2, 3):
            try:
                with self.store._write("delete unused images") as conn:
                    found = list(conn.execute(query).scalars())
                    if found:
                        # Rows first: a reference committed since the query makes this fail, and nothing is lost.
                        conn.execute(delete(blobs).where(blobs.c.sha256.in_(found)))
                        try:
                            self.backend.delete([blob_key(sha) for sha in found])
                        except OSError as exc:
                            LOG.error("could not delete from the image store %s: %s", self.backend.location, exc)
                            raise ImageStoreError(f"could not delete {len(found)} unused image(s) from the image "
                                                  f"store: {_why(exc)}") from None
                return found
            except StoreError as exc:
                if attempt == 3 or not isinstance(exc.__cause__, IntegrityError):
                    raise
        return []


def open_image_store(store: Store, location: str | os.PathLike | None = None, *, quota_bytes: Any = "env",
                     **storage_options: Any) -> ImageStore:
    """The image store at `location` (else SERVESCOPE_BLOBS, else $SERVESCOPE_DATA_DIR/blobs) indexed in `store`;
    `quota_bytes` None for none, by default SERVESCOPE_BLOBS_QUOTA_MB."""
    quota = quota_from_env() if quota_bytes == "env" else quota_bytes
    return ImageStore(store, open_blobs(location, **storage_options), quota_bytes=quota)
