"""Where the image store keeps its bytes: a local folder, or an object store reached through fsspec.

Each image is one object named by the SHA-256 of its bytes (`ab/cd/abcd…`, 64 hex digits), so the same photo is
one object however often it is uploaded. `SERVESCOPE_BLOBS` says where: unset, the folder `blobs` next to the run
store's default file (`$SERVESCOPE_DATA_DIR/blobs`); a path or a `file://` URL, that folder; any other URL
(`s3://bucket/prefix`, `gs://bucket/prefix`, …) an object store through fsspec, which the `objectstore` extra
installs (fsspec and s3fs; gs:// also needs gcsfs). Its credentials and endpoint come from the usual places (for S3:
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, or fsspec's FSSPEC_S3_* variables), never from the URL.

The backends only move bytes: they raise OSError (a missing object is FileNotFoundError) and know nothing of
names or quotas; client.store.images turns that into errors naming the image.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Protocol

from client.store.engine import LOG, default_database_path
from client.store.records import StoreError

__all__ = ["BlobBackend", "FsspecBlobs", "LocalBlobs", "OBJECTSTORE_EXTRA", "blob_key", "blobs_location",
           "open_blobs"]

OBJECTSTORE_EXTRA = "pip install 'servescope[objectstore]'"
_HEX = frozenset("0123456789abcdef")


def blob_key(sha256: str) -> str:
    """The object's name for a hex SHA-256: two levels of folders (256 each) keep any one folder small."""
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ValueError(f"not a hex SHA-256: {sha256[:80]!r}")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def blobs_location(value: str | os.PathLike | None = None) -> str:
    """`value`, else SERVESCOPE_BLOBS, else the folder `blobs` beside the run store's default file."""
    return str(value or os.environ.get("SERVESCOPE_BLOBS") or default_database_path().parent / "blobs")


class BlobBackend(Protocol):
    location: str   # for the log only

    def write(self, objects: Mapping[str, bytes]) -> None: ...
    def read(self, key: str, limit: int) -> bytes: ...
    def size(self, key: str) -> int | None: ...
    def delete(self, keys: Iterable[str]) -> None: ...


class LocalBlobs:
    """Objects as files under `root`, each written to a temporary file and renamed into place (a reader never
    sees half an object)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def write(self, objects: Mapping[str, bytes]) -> None:
        for key, data in objects.items():
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                temporary.write_bytes(data)
                os.replace(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)

    def read(self, key: str, limit: int) -> bytes:
        with open(self.root / key, "rb") as handle:
            return handle.read(limit + 1)

    def size(self, key: str) -> int | None:
        try:
            return (self.root / key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)


class FsspecBlobs:
    """Objects in an fsspec file system (S3, GCS, …) under `prefix`; several objects are written concurrently
    where the file system can (fsspec's pipe). Any failure is raised as an OSError."""

    def __init__(self, fs: Any, prefix: str, location: str) -> None:
        self.fs, self.prefix, self.location = fs, prefix.rstrip("/"), location

    def _path(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def write(self, objects: Mapping[str, bytes]) -> None:
        with _as_os_error():
            self.fs.pipe({self._path(key): data for key, data in objects.items()})

    def read(self, key: str, limit: int) -> bytes:
        with _as_os_error():
            return self.fs.cat_file(self._path(key), start=0, end=limit + 1)

    def size(self, key: str) -> int | None:
        try:
            with _as_os_error():
                return int(self.fs.size(self._path(key)))
        except FileNotFoundError:
            return None

    def delete(self, keys: Iterable[str]) -> None:
        paths = [self._path(key) for key in keys]
        if not paths:
            return
        with _as_os_error():
            try:
                self.fs.rm(paths)
            except FileNotFoundError:
                pass  # already gone


@contextmanager
def _as_os_error() -> Iterator[None]:
    """OSError (and its FileNotFoundError, PermissionError) as raised; anything else a file system library raises
    (botocore's, aiohttp's, …) as OSError("<type>: <first line>")."""
    try:
        yield
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - each object store's library has its own exception tree
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise OSError(f"{type(exc).__name__}: {first}" if first else type(exc).__name__) from exc


def open_blobs(location: str | os.PathLike | None = None, **storage_options: Any) -> BlobBackend:
    """The backend for `location` (see blobs_location). StoreError when an object-store URL needs a package that is
    not installed (naming the extra) or cannot be understood."""
    where = blobs_location(location)
    if "://" not in where or where.startswith("file://"):
        root = Path(where.removeprefix("file://")).expanduser()
        return LocalBlobs(root)
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise StoreError(f"the image store {where.split('://', 1)[0]}:// needs fsspec: {OBJECTSTORE_EXTRA}") from None
    try:
        fs, prefix = url_to_fs(where, **storage_options)
    except ImportError as exc:
        raise StoreError(f"the image store {where.split('://', 1)[0]}:// needs a package that is not installed "
                         f"({exc}); for s3:// {OBJECTSTORE_EXTRA}") from None
    except (ValueError, TypeError) as exc:
        LOG.error("cannot open the image store %s: %s", where, exc)
        raise StoreError(f"cannot open the image store: {exc}") from None
    return FsspecBlobs(fs, prefix, where)
