"""The one expander: paths, folders, ZIP archives and in-memory uploads -> lazily read (name, loader) pairs.

Nothing is read until a loader is called, so a caller holds only the images it is working on: a ZIP
member is inflated when its loader runs, never while the archive is listed, and nothing from an
archive is ever written to disk. Members are named `archive.zip/folder/member.jpg`.

One set of rules for paths and uploads alike:
- MAX_FILE_BYTES per file or member (checked against the header and again while inflating, so a
  ZIP bomb stops at the limit), MAX_MEMBERS per archive, ZIPs inside ZIPs opened to MAX_ZIP_DEPTH.
- Inside folders and archives only image file names are kept. Everything passed over is appended
  to `skipped` as Skipped(name, reason): hidden files, `__MACOSX/`, folders, `../` or `..\\`
  members, non-image names. Paths and uploads named explicitly are always kept.
- An absolute member name (`/etc/x.jpg`) is read under its base name (`a.zip/x.jpg`).
- A ZIP inside a ZIP is inflated in memory (within MAX_FILE_BYTES) to list its members, then freed;
  it is inflated again while its members are read, and freed when the last one has been.
- Anything unreadable (a missing path, a broken archive, a member name flagged UTF-8 that is not,
  a member over the limit, a corrupt or encrypted member, an archive nested too deep) gets a loader
  that raises OSError naming it, so it becomes that item's error row and the rest go on.
- An upload whose name holds a NUL character (no file system makes one; a crafted request can) is
  such an error row too, named with `\x00` in its place: a NUL cannot be stored in PostgreSQL text.
"""
from __future__ import annotations

import io
import os
import re
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Callable, Iterable, Iterator

__all__ = ["IMAGE_SUFFIXES", "MAX_FILE_BYTES", "MAX_MEMBERS", "MAX_ZIP_DEPTH", "Item", "Loader", "Skipped",
           "expand_sources", "expand_uploads", "is_zip", "read_file"]

Loader = Callable[[], bytes]
Item = tuple[str, Loader]   # an image to classify: its shown name and the loader that reads its bytes when sent
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
# No photo is this big; refusing larger files (or members that inflate past it) keeps one stray
# video or zip bomb from exhausting memory before Pillow's pixel limit can even look at it.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 50_000       # per archive; more is a listing error row, the first MAX_MEMBERS are kept
MAX_ZIP_DEPTH = 2          # an archive given or uploaded is depth 1; a ZIP inside it depth 2
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# What zipfile raises for one unusable archive or member: bad CRC/header, corrupt deflate data,
# encryption, an unsupported method, a name flagged UTF-8 that is not.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError,
               UnicodeDecodeError, ValueError)
_DRIVE = re.compile(r"^[A-Za-z]:/")


@dataclass(frozen=True)
class Skipped:
    """An entry of a folder or archive passed over on purpose, and why (e.g. "hidden file")."""

    name: str
    reason: str


def is_zip(name: str, head: bytes = b"") -> bool:
    """A ZIP by its suffix or its first bytes (the PK magic)."""
    return name.lower().endswith(".zip") or head[:4] in _ZIP_MAGIC


def _too_big(shown: str, size: int) -> OSError:
    return OSError(f"{shown}: {size} bytes is over the {MAX_FILE_BYTES} byte limit for one image")


def _read_capped(handle: IO[bytes], shown: str, declared: int | None = None) -> bytes:
    """At most MAX_FILE_BYTES from `handle`; over it (even when the header understated the size) raises."""
    if declared is not None and declared > MAX_FILE_BYTES:
        raise _too_big(shown, declared)
    data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(shown, declared if declared and declared > MAX_FILE_BYTES else len(data))
    return data


def read_file(path: str | os.PathLike) -> Loader:
    def load() -> bytes:
        try:
            with open(path, "rb") as handle:
                return _read_capped(handle, str(path))
        except OSError as exc:
            if exc.errno is None:  # already ours: "x.jpg: N bytes is over ..."
                raise
            raise type(exc)(f"{path}: {exc.strerror or exc}") from None  # not errno and repr
    return load


def _raiser(error: Exception) -> Loader:
    def load() -> bytes:
        raise error
    return load


def _why_not_image(member: str) -> str | None:
    """None for a member name worth reading; else why it is skipped. `member` uses / separators."""
    parts = PurePosixPath(member).parts
    if member.endswith("/"):
        return "folder"
    if ".." in parts:
        return "path leaves the archive"
    if parts and parts[0] == "__MACOSX":
        return "macOS metadata"
    if any(part.startswith(".") for part in parts):
        return "hidden file"
    if Path(member).suffix.lower() not in IMAGE_SUFFIXES and not member.lower().endswith(".zip"):
        suffix = Path(member).suffix
        return f"not an image suffix: {suffix}" if suffix else "no file suffix"
    return None


def _display_member(filename: str) -> str:
    """The member's name as shown: / separators; an absolute name reduced to its base name."""
    name = filename.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        return PurePosixPath(name).name
    return name


class _Archive:
    """One ZIP shared by its members' loaders.

    `opener` returns the archive's path or a fresh binary stream of it (in-memory upload bytes, or a
    nested archive inflated from its parent). The ZipFile is opened when a member is first read
    (parsing the central directory grows with the member count, so not once per member), reads
    are serialised by a lock, and it is closed when every listed member has been read in this pass,
    which frees the file handle (a folder may hold many archives) and a nested archive's inflated
    bytes. Reading again starts a new pass.
    """

    def __init__(self, opener: Callable[[], Path | IO[bytes]], shown: str) -> None:
        self.opener, self.shown = opener, shown
        self.members: frozenset[int] = frozenset()  # header offsets of the listed members
        self._unread: set[int] = set()
        self._lock = threading.Lock()
        self._zip: zipfile.ZipFile | None = None

    def listing(self) -> list[zipfile.ZipInfo]:
        with zipfile.ZipFile(self.opener()) as archive:
            return archive.infolist()

    def read(self, info: zipfile.ZipInfo, shown: str) -> bytes:
        with self._lock:
            try:
                if self._zip is None:
                    self._zip = zipfile.ZipFile(self.opener())
                    self._unread = set(self.members)  # a new pass (e.g. thumbnails, then requests)
                with self._zip.open(info) as handle:
                    return _read_capped(handle, shown, info.file_size)
            except _ZIP_ERRORS as exc:
                message = str(exc)
                raise OSError(message if message.startswith(shown) else
                              f"{shown}: unreadable ZIP member ({type(exc).__name__}: {exc})") from None
            finally:
                self._unread.discard(info.header_offset)
                if not self._unread and self._zip is not None:
                    self._zip.close()
                    self._zip = None

    def nested(self, info: zipfile.ZipInfo, shown: str) -> "_Archive":
        """A ZIP member as an archive of its own: inflated (within the limit) when it is opened."""
        return _Archive(lambda: io.BytesIO(self._read_detached(info, shown)), shown)

    def _read_detached(self, info: zipfile.ZipInfo, shown: str) -> bytes:
        """Read a member through its own ZipFile, without counting it as one of the listed members."""
        try:
            with zipfile.ZipFile(self.opener()) as archive, archive.open(info) as handle:
                return _read_capped(handle, shown, info.file_size)
        except _ZIP_ERRORS as exc:
            message = str(exc)
            raise OSError(message if message.startswith(shown) else
                          f"{shown}: unreadable ZIP archive ({type(exc).__name__}: {exc})") from None


def _archive_items(archive: _Archive, depth: int, skipped: list[Skipped]) -> Iterator[Item]:
    """(name, loader) for the image members of `archive` (depth 1 = an archive given or uploaded)."""
    shown = archive.shown
    try:
        infos = archive.listing()
    except UnicodeDecodeError as exc:
        yield shown, _raiser(OSError(f"{shown}: not a readable ZIP archive (a member name flagged UTF-8 is not "
                                     f"valid UTF-8: {exc.object[:60]!r})"))
        return
    except _ZIP_ERRORS as exc:
        message = str(exc)
        yield shown, _raiser(OSError(message if message.startswith(shown) else
                                     f"{shown}: not a readable ZIP archive ({exc})"))
        return
    if len(infos) > MAX_MEMBERS:
        yield shown, _raiser(OSError(f"{shown}: {len(infos)} entries, over the limit of {MAX_MEMBERS} per "
                                     f"archive; only the first {MAX_MEMBERS} were read"))
        infos = infos[:MAX_MEMBERS]
    images: list[tuple[str, zipfile.ZipInfo]] = []
    nested: list[tuple[str, zipfile.ZipInfo]] = []
    for info in sorted(infos, key=lambda i: _display_member(i.filename)):
        member = info.filename.replace("\\", "/")
        name = f"{shown}/{_display_member(info.filename)}"
        reason = "folder" if info.is_dir() else _why_not_image(member.lstrip("/"))
        if reason is not None:
            skipped.append(Skipped(f"{shown}/{member}", reason))
        elif member.lower().endswith(".zip"):
            nested.append((name, info))
        else:
            images.append((name, info))
    archive.members = frozenset(info.header_offset for _, info in images)
    for name, info in images:
        yield name, (lambda info=info, name=name: archive.read(info, name))
    for name, info in nested:
        if depth >= MAX_ZIP_DEPTH:
            yield name, _raiser(OSError(f"{name}: a ZIP archive nested more than {MAX_ZIP_DEPTH} deep; "
                                        "not opened (unpack it one level first)"))
        else:
            yield from _archive_items(archive.nested(info, name), depth + 1, skipped)


def _file_archive(path: Path, shown: str) -> _Archive:
    return _Archive(lambda: path, shown)  # given a path, ZipFile opens and closes the file itself


def _walk(folder: Path, shown: str, skipped: list[Skipped]) -> Iterator[Item]:
    for root, dirs, files in os.walk(folder):
        relative_root = os.path.relpath(root, folder)
        for name in sorted(d for d in dirs if d.startswith(".")):
            skipped.append(Skipped(os.path.normpath(os.path.join(shown, relative_root, name)) + "/", "hidden folder"))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            file_path = Path(root) / name
            display = os.path.normpath(os.path.join(shown, relative_root, name))
            reason = "hidden file" if name.startswith(".") else _why_not_image(name)
            if reason is not None:
                skipped.append(Skipped(display, reason))
            elif name.lower().endswith(".zip"):
                yield from _archive_items(_file_archive(file_path, display), 1, skipped)
            else:
                yield display, read_file(file_path)


def expand_sources(paths: Iterable[str | os.PathLike], *,
                   skipped: list[Skipped] | None = None) -> Iterator[Item]:
    """(name, loader) for every image under `paths`, in a stable (sorted) order.

    Folders are walked recursively; `.zip` files, given directly or found in a folder, contribute
    their image members. A missing path yields a loader that raises, so it becomes one per-file
    error instead of stopping the run.
    """
    passed_over = skipped if skipped is not None else []
    for raw in paths:
        path = Path(raw)
        shown = str(raw)
        if path.is_dir():
            yield from _walk(path, shown, passed_over)
        elif path.is_file() and path.suffix.lower() == ".zip":
            yield from _archive_items(_file_archive(path, shown), 1, passed_over)
        elif path.exists():
            yield shown, read_file(path)
        else:
            yield shown, _raiser(FileNotFoundError(f"{shown}: no such file or folder"))


def _upload_parts(upload: Any) -> tuple[str, Callable[[], bytes]]:
    if isinstance(upload, tuple) and len(upload) == 2:
        name, data = upload
        blob = bytes(data) if not isinstance(data, bytes) else data
        return str(name), (lambda: blob)
    return str(upload.name), upload.getvalue


def expand_uploads(uploads: Iterable[Any], *, skipped: list[Skipped] | None = None,
                   folder: bool = False) -> Iterator[Item]:
    """(name, loader) for uploaded files: objects with .name and .getvalue() (Streamlit's
    UploadedFile) or (name, bytes) pairs. ZIPs (by suffix or PK magic) are expanded in place, lazily:
    only their central directory is read here. Order is kept. `folder`: the uploads are the files of
    a folder (named by their paths in it), so hidden files and non-image names are skipped, as in a
    folder on disk."""
    passed_over = skipped if skipped is not None else []
    for upload in uploads:
        name, value = _upload_parts(upload)
        if "\0" in name:
            shown = name.replace("\0", "\\x00")
            yield shown, _raiser(OSError(f"{shown}: the file name contains a NUL character (shown as \\x00); "
                                         "not read"))
            continue
        if folder and (reason := _why_not_image(name.replace("\\", "/").lstrip("/"))) is not None:
            passed_over.append(Skipped(name, reason))
            continue
        data = value()
        if len(data) > MAX_FILE_BYTES and not is_zip(name, data[:4]):
            yield name, _raiser(_too_big(name, len(data)))
        elif is_zip(name, data[:4]):
            yield from _archive_items(_Archive(lambda value=value: io.BytesIO(value()), name), 1, passed_over)
        else:
            yield name, value
