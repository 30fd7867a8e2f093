"""What the dataset store hands back (frozen records), its errors, and the rules for names and references.

A dataset's name is plain text: any printable characters (slashes, dots, angle brackets and all), never a path;
it is refused only when empty, longer than MAX_NAME_CHARS, or holding control characters (a NUL cannot be stored
in PostgreSQL, a newline would break every listing). `NAME@VERSION` names a version; a dataset whose whole name
ends in `@` and digits is still found by its exact name first.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Mapping

from client.store.records import StoreError

__all__ = ["CorrectionsPlan", "DatasetBuild", "DatasetDeleted", "DatasetError", "DatasetExistsError", "DatasetItem",
           "DatasetNotFoundError", "DatasetSummary", "DatasetVersion", "MAX_DATASET_IMAGES", "MAX_NAME_CHARS",
           "MAX_TRUTH_CHARS", "check_name", "parse_reference"]

MAX_NAME_CHARS = 200
MAX_TRUTH_CHARS = 200            # the ground_truth column's width, as in a run's rows
MAX_DATASET_IMAGES = 200_000     # images in one version (as many as one truth file may label)


class DatasetError(StoreError):
    """A dataset request that cannot be done as asked; the message says why."""


class DatasetExistsError(DatasetError):
    """A dataset of that name exists and the caller did not ask for a new version."""


class DatasetNotFoundError(DatasetError, LookupError):
    """No dataset (or no such version of it) is stored."""


def check_name(name: object) -> str:
    """The name with surrounding spaces removed; DatasetError when it is not text, empty, too long or has control
    characters."""
    if not isinstance(name, str):
        raise DatasetError(f"a dataset name is text, not {type(name).__name__}")
    name = name.strip()
    if not name:
        raise DatasetError("a dataset name cannot be empty")
    if len(name) > MAX_NAME_CHARS:
        raise DatasetError(f"a dataset name is at most {MAX_NAME_CHARS} characters; this one has {len(name):,}")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise DatasetError("a dataset name cannot contain control characters (newlines, tabs, NUL …): "
                           f"{name[:60]!r}")
    return name


def parse_reference(reference: str) -> tuple[str, int | None]:
    """"march-audit@3" -> ("march-audit", 3); "march-audit" -> ("march-audit", None)."""
    name, at, version = reference.rpartition("@")
    if at and name and version.isascii() and version.isdigit():
        return name, int(version)
    return reference, None


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a dataset: what a run uses (create_run(dataset=...)) and what `dataset list` counts."""
    dataset_id: str
    name: str
    version: int
    created_at: datetime
    note: str | None
    images: int
    truth_known: int                 # images with a truth label
    created_by: str | None = None    # the dataset's creator: sha256 hex of a browser's token; None: the CLI, a script

    @property
    def reference(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class DatasetItem:
    position: int                    # 0 … images-1, the order of the version (and of a run's rows on it)
    sha256: str
    source: str                      # the original name or path
    truth: str | None
    size_bytes: int
    corrected_by_run: str | None = None


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset as listed: its newest version's size, class balance and truth coverage, and its runs."""
    dataset_id: str
    name: str
    created_at: datetime
    latest_version: int
    updated_at: datetime             # when the newest version was made
    images: int
    bytes: int
    truth_known: int
    class_balance: Mapping[str, int]  # truth label -> images, most common first
    runs: int                        # runs made on any of its versions
    created_by: str | None = None    # sha256 hex of the creating browser's token; None: the CLI, a script, before v9

    @property
    def truth_coverage(self) -> float | None:
        return self.truth_known / self.images if self.images else None


@dataclass(frozen=True)
class DatasetBuild:
    """What creating a dataset (or adding images to one) did."""
    version: DatasetVersion
    added: int                       # images new to the dataset in this version
    replaced: int                    # images whose name was in the previous version (add_images)
    stored_images: int               # images this build wrote to the image store (others were there already)
    stored_bytes: int
    failed: tuple[str, ...] = ()     # "name: why" for each input not taken (unreadable, listed twice, …)
    truth_summary: str = ""

    def text(self) -> str:
        made = "created" if self.version.version == 1 else f"version {self.version.version} of"
        line = (f"{made} dataset {self.version.name!r}: {self.version.images:,} image(s), truth for "
                f"{self.version.truth_known:,}; {self.stored_images:,} stored ({self.stored_bytes / 1e6:,.1f} MB), "
                f"{self.added - self.stored_images:,} already in the image store")
        return line + (f"; {len(self.failed)} not taken" if self.failed else "")


@dataclass(frozen=True)
class DatasetDeleted:
    name: str
    versions: int
    images_deleted: int              # images no other dataset or run used, deleted from the image store


@dataclass(frozen=True)
class CorrectionsPlan:
    """A run's corrections offered back to its dataset: `corrections` would change a truth in the newest version;
    `version` is the version applying them made (None before, or when nothing changed)."""
    run_id: str
    dataset_id: str
    name: str
    latest_version: int
    corrections: int
    unchanged: int = 0               # corrections the newest version already has
    not_found: tuple[str, ...] = ()  # corrected images no longer in the newest version
    version: int | None = None
    changes: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))  # latest position -> truth

    def text(self) -> str:
        """"apply 3 corrections to dataset 'march-audit' → version 4" (or what was done)."""
        if self.version is not None:
            return f"applied {_corrections(self.corrections)} to dataset {self.name!r} → version {self.version}"
        if not self.corrections:
            return f"dataset {self.name!r} version {self.latest_version} already has this run's corrections"
        return f"apply {_corrections(self.corrections)} to dataset {self.name!r} → version {self.latest_version + 1}"


def _corrections(count: int) -> str:
    return f"{count} correction" + ("" if count == 1 else "s")
