"""Turn what the analyst uploaded (images and ZIP archives) into named image payloads.

ZIP members are read in memory (uploads are in memory already) and named `archive.zip/member.jpg`, the same
naming the client CLI uses. A broken archive or an oversized member becomes one error item; the rest go on.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Iterable

# Guards against ZIP bombs: what one member may inflate to, and how many members one archive may add.
MAX_MEMBER_BYTES = 50 * 1024 * 1024
MAX_MEMBERS_PER_ARCHIVE = 5000


@dataclass(frozen=True)
class UploadItem:
    """One image to classify, or (`error` set) one input that never reaches the model."""

    name: str
    data: bytes | None
    error: str | None = None


def is_zip(name: str, data: bytes) -> bool:
    return name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04"


def _skipped_member(info: zipfile.ZipInfo) -> bool:
    """Folders and OS metadata (macOS resource forks, dot files) are not images the analyst chose."""
    path = PurePosixPath(info.filename)
    return info.is_dir() or "__MACOSX" in path.parts or any(p.startswith(".") for p in path.parts)


def _expand_zip(name: str, data: bytes) -> list[UploadItem]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        return [UploadItem(name, None, f"{name}: not a readable ZIP archive ({exc})")]
    items: list[UploadItem] = []
    with archive:
        members = [info for info in archive.infolist() if not _skipped_member(info)]
        for info in members[:MAX_MEMBERS_PER_ARCHIVE]:
            member_name = f"{name}/{info.filename}"
            if info.file_size > MAX_MEMBER_BYTES:
                items.append(UploadItem(member_name, None,
                                        f"{member_name}: {info.file_size} bytes uncompressed, over the "
                                        f"limit of {MAX_MEMBER_BYTES} bytes per file"))
                continue
            try:
                items.append(UploadItem(member_name, archive.read(info)))
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                # RuntimeError: encrypted member; NotImplementedError: unsupported compression.
                items.append(UploadItem(member_name, None, f"{member_name}: cannot be read from the archive ({exc})"))
        if len(members) > MAX_MEMBERS_PER_ARCHIVE:
            items.append(UploadItem(name, None, f"{name}: only the first {MAX_MEMBERS_PER_ARCHIVE} of "
                                                f"{len(members)} files were read"))
    if not items:
        items.append(UploadItem(name, None, f"{name}: the archive holds no files"))
    return items


def expand_uploads(uploads: Iterable[tuple[str, bytes]]) -> list[UploadItem]:
    """Uploaded `(name, bytes)` pairs -> one item per image, ZIP archives expanded in place, order kept."""
    items: list[UploadItem] = []
    for name, data in uploads:
        if is_zip(name, data):
            items.extend(_expand_zip(name, data))
        elif not data:
            items.append(UploadItem(name, None, f"{name}: the file is empty"))
        else:
            items.append(UploadItem(name, data))
    return items
