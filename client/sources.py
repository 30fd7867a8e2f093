"""Turn paths, folders, ZIP archives and uploads into lazily read (name, loader) pairs.

Nothing is read until a loader is called, so a caller holds only the images it is working on.
ZIP members are read straight from the archive (never extracted to disk) and named
`archive.zip/member.jpg`. Every failure to read one input (missing, unreadable, over the size
limit, a corrupt or encrypted ZIP member) is raised by its loader as an OSError naming it, so it
becomes one per-file error.
"""
from __future__ import annotations

import os
import threading
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

__all__ = ["IMAGE_SUFFIXES", "MAX_FILE_BYTES", "Loader", "expand_sources", "from_uploads", "read_file",
           "read_zip_member"]

Loader = Callable[[], bytes]
# Files found by walking a folder or archive are kept only with these suffixes (so a
# manifest.csv next to the photos is not "classified"); paths named explicitly are always kept.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
# No photo is this big; refusing larger files (or ZIP members that inflate past it) keeps one
# stray video or zip bomb from exhausting memory before Pillow's pixel limit can even look at it.
MAX_FILE_BYTES = 64 * 1024 * 1024
# What zipfile raises for one unusable member: bad CRC/header, corrupt deflate data, encryption,
# an unsupported compression method.
_ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError)


def _too_big(shown: str, size: int) -> OSError:
    return OSError(f"{shown}: {size} bytes is over the {MAX_FILE_BYTES} byte limit for one image")


def read_file(path: str | os.PathLike) -> Loader:
    def load() -> bytes:
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:  # "photos/a.jpg: Permission denied", not errno and repr
            raise type(exc)(f"{path}: {exc.strerror or exc}") from None
        if len(data) > MAX_FILE_BYTES:
            raise _too_big(str(path), os.path.getsize(path))
        return data
    return load


class _Archive:
    """One ZIP archive shared by its members' loaders.

    Opening a ZipFile parses the whole central directory (~70 ms for 20,000 members), so it is
    opened once, not per member; a lock serialises reads from worker threads. It is closed when
    every listed member has been read once (and reopened if a loader is called again).
    """

    def __init__(self, path: Path, shown_as: str, members: int) -> None:
        self.path, self.shown_as = path, shown_as
        self._unread = members
        self._lock = threading.Lock()
        self._zip: zipfile.ZipFile | None = None

    def read(self, member: str) -> bytes:
        shown = f"{self.shown_as}/{member}"
        with self._lock:
            try:
                if self._zip is None:
                    self._zip = zipfile.ZipFile(self.path)
                info = self._zip.getinfo(member)
                if info.file_size > MAX_FILE_BYTES:
                    raise _too_big(shown, info.file_size)
                with self._zip.open(info) as handle:
                    data = handle.read(MAX_FILE_BYTES + 1)
                if len(data) > MAX_FILE_BYTES:  # the header understated the size
                    raise _too_big(shown, len(data))
                return data
            except _ZIP_MEMBER_ERRORS as exc:
                message = str(exc)
                raise OSError(message if message.startswith(shown) else f"{shown}: unreadable ZIP member "
                              f"({type(exc).__name__}: {exc})") from None
            finally:
                self._unread -= 1
                if self._unread <= 0 and self._zip is not None:
                    self._zip.close()
                    self._zip = None


def read_zip_member(archive: Path, member: str, *, shown_as: str | None = None) -> Loader:
    """A loader for one member (the archive is opened when called)."""
    shared = _Archive(Path(archive), shown_as or str(archive), 1)
    return lambda: shared.read(member)


def _is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _zip_members(archive: Path, shown_as: str) -> Iterator[tuple[str, Loader]]:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = sorted(info.filename for info in zf.infolist() if not info.is_dir())
    except (zipfile.BadZipFile, OSError) as exc:
        yield shown_as, _raiser(OSError(f"{shown_as}: not a readable ZIP archive ({exc})"))
        return
    images = [m for m in members if _is_image_name(m) and not m.startswith("__MACOSX/") and "/." not in f"/{m}"]
    shared = _Archive(archive, shown_as, len(images))
    for member in images:
        yield f"{shown_as}/{member}", (lambda member=member: shared.read(member))


def _raiser(error: Exception) -> Loader:
    def load() -> bytes:
        raise error
    return load


def expand_sources(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[str, Loader]]:
    """Yield (name, loader) for every image under `paths`, in a stable (sorted) order.

    Folders are walked recursively (hidden entries skipped); `.zip` files, given directly or
    found in a folder, contribute their image members. A missing path yields a loader that
    raises, so it becomes one per-file error rather than stopping the run.
    """
    for raw in paths:
        path = Path(raw)
        shown = str(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    file_path = Path(root) / name
                    display = os.path.join(shown, os.path.relpath(file_path, path))
                    if name.lower().endswith(".zip"):
                        yield from _zip_members(file_path, display)
                    elif _is_image_name(name):
                        yield display, read_file(file_path)
        elif path.suffix.lower() == ".zip" and path.is_file():
            yield from _zip_members(path, shown)
        elif path.exists():
            yield shown, read_file(path)
        else:
            yield shown, _raiser(FileNotFoundError(f"{shown}: no such file or folder"))


def from_uploads(items: Iterable[tuple[str, bytes]]) -> Iterator[tuple[str, Loader]]:
    """(name, bytes) pairs (e.g. Streamlit uploads) as (name, loader) pairs."""
    for name, data in items:
        blob = bytes(data)
        yield str(name), (lambda blob=blob: blob)
