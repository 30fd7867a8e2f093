"""Turn paths, folders, ZIP archives and uploads into lazily read (name, loader) pairs.

Nothing is read until a loader is called, so a caller holds only the images it is working on.
ZIP members are read straight from the archive (never extracted to disk) and named
`archive.zip/member.jpg`.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

__all__ = ["IMAGE_SUFFIXES", "Loader", "expand_sources", "from_uploads", "read_file", "read_zip_member"]

Loader = Callable[[], bytes]
# Files found by walking a folder or archive are kept only with these suffixes (so a
# manifest.csv next to the photos is not "classified"); paths named explicitly are always kept.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"})


def read_file(path: Path) -> Loader:
    return lambda: Path(path).read_bytes()


def read_zip_member(archive: Path, member: str) -> Loader:
    def load() -> bytes:
        with zipfile.ZipFile(archive) as zf:  # reopened per member: loaders may run on worker threads
            return zf.read(member)
    return load


def _is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _zip_members(archive: Path, shown_as: str) -> Iterator[tuple[str, Loader]]:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = sorted(info.filename for info in zf.infolist() if not info.is_dir())
    except zipfile.BadZipFile as exc:
        yield shown_as, _raiser(OSError(f"{shown_as}: not a readable ZIP archive ({exc})"))
        return
    for member in members:
        if _is_image_name(member) and not member.startswith("__MACOSX/") and "/." not in f"/{member}":
            yield f"{shown_as}/{member}", read_zip_member(archive, member)


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
