"""What the run store hands back: frozen records, and the pure conversions between them and table rows."""
from __future__ import annotations

import json
import math
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from client.plan import ClassifyPlan

__all__ = ["NO_PROFILE_ORIGIN", "StoreError", "RunActiveError", "RunInfo", "RunProfile", "RunSummary", "Comparison",
           "Observation", "RUN_STATUSES", "FINAL_STATUSES", "utc", "to_json_safe", "process_owner", "owner_is_dead"]

NO_PROFILE_ORIGIN = "no profile (the default)"   # RunProfile.origin of a run given no profile
RUN_STATUSES = ("queued", "running", "complete", "cancelled", "interrupted", "failed")
FINAL_STATUSES = frozenset({"complete", "cancelled", "interrupted", "failed"})


class StoreError(RuntimeError):
    """A read or write the store could not do; the message says what, where and why."""


class RunActiveError(StoreError):
    """A queued or running run cannot be deleted (by anyone): its rows are still arriving."""


def utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything the store writes is UTC, so say so."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def to_json_safe(value: Any) -> Any:
    """Tuples/mappings/NumPy scalars as plain JSON values; NaN as None (JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return json.loads(json.dumps(value, default=str))


@dataclass(frozen=True)
class RunProfile:
    """The model profile a run used (client.profile.ModelProfile) and what it meant for that run.

    `data` is the profile as JSON with its class names inlined (it stands alone), `digest` its "sha256:<hex>"
    (ModelProfile.digest); `origin` says where it came from ("SERVESCOPE_PROFILES/mobilenet.json", "this session",
    ...); `assumed` is True when the model takes pixels and no profile said how to prepare them (the default
    was used); `preparation` is the plan's one line saying what was sent; `input_tensor` the input it was sent
    as ({"name", "dtype", "shape"}; None when not known)."""
    data: Mapping[str, Any]
    digest: str
    origin: str | None = None
    assumed: bool = False
    preparation: str | None = None
    input_tensor: Mapping[str, Any] | None = None

    @classmethod
    def from_plan(cls, plan: "ClassifyPlan", origin: str | None) -> "RunProfile":
        """What a run stores of the plan it classifies with: the plan's profile (the default when none was given),
        `origin` (None: none was given, NO_PROFILE_ORIGIN), whether its preparation was assumed, the preparation
        line and the input tensor."""
        profile = plan.profile
        shape = list(plan.input_shape) if plan.input_shape is not None else None
        return cls(data=profile.to_dict(inline_class_names=True), digest=profile.digest,
                   origin=origin or NO_PROFILE_ORIGIN, assumed=plan.profile_assumed, preparation=plan.preparation,
                   input_tensor={"name": plan.input_name, "dtype": plan.input_dtype, "shape": shape})

    def columns(self) -> dict[str, Any]:
        """The runs table's columns for it."""
        return {"profile": to_json_safe(dict(self.data)), "profile_digest": self.digest,
                "profile_origin": self.origin, "profile_assumed": bool(self.assumed),
                "preparation": self.preparation,
                "input_tensor": to_json_safe(dict(self.input_tensor)) if self.input_tensor is not None else None}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "RunProfile | None":
        """The run's profile, or None for a run stored before profiles were (or before its plan was made)."""
        if row.get("profile_digest") is None:
            return None
        tensor = row.get("input_tensor")
        return cls(data=MappingProxyType(dict(row.get("profile") or {})), digest=row["profile_digest"],
                   origin=row.get("profile_origin"), assumed=bool(row.get("profile_assumed")),
                   preparation=row.get("preparation"),
                   input_tensor=MappingProxyType(dict(tensor)) if tensor else None)


@dataclass(frozen=True)
class RunInfo:
    id: str
    created_at: datetime
    finished_at: datetime | None
    kind: str                              # classify | compare
    session_id: str | None
    url: str
    model: str
    target: str                            # client.schema.target_text form: latest, version:2, label:stable
    version: int | None                    # the version that answered
    labels_at_start: Mapping[str, int]     # label -> version when the run started
    labels_at_end: Mapping[str, int]       # ... and when it ended (empty until then)
    signature_digest: str | None
    status: str
    total: int
    done: int
    errors: int
    elapsed_s: float | None
    error: str | None
    class_names: tuple[str, ...]
    truth_summary: str | None
    owner: str | None                      # host:pid:start of the process running it
    thumbnails: bool
    started_by: str | None = None          # sha256 hex of the starting browser's token; None: no browser started it
    lease_expires_at: datetime | None = None   # renewed by the owning process while the run is queued or running
    dataset_id: str | None = None          # the dataset it ran on (None: an upload); may since have been deleted
    dataset_version: int | None = None     # ... the version it used
    dataset_name: str | None = None        # ... and its name then
    keep_images: bool = False              # its images are kept in the image store (client.store.images)
    profile: RunProfile | None = None      # the model profile it used (None: not known yet, or stored before v7)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def succeeded(self) -> int:
        return self.done - self.errors

    def outcome(self) -> str:
        """One honest sentence: what finished, what failed, what never ran."""
        counts = f"{self.succeeded} of {self.total} image(s) classified"
        if self.errors:
            counts += f", {self.errors} failed"
        if self.status in ("queued", "running"):
            return f"{self.status}: {counts} so far"
        if self.status == "complete":
            return f"complete: {counts}"
        left = self.total - self.done
        reason = f" ({self.error})" if self.error else ""
        return f"{self.status} with {self.done} of {self.total} done: {counts}, {left} not run{reason}"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "RunInfo":
        return cls(
            id=row["id"], created_at=utc(row["created_at"]), finished_at=utc(row["finished_at"]), kind=row["kind"],
            session_id=row["session_id"], url=row["url"], model=row["model"], target=row["target"],
            version=row["version"], labels_at_start=MappingProxyType(dict(row["labels_at_start"] or {})),
            labels_at_end=MappingProxyType(dict(row["labels_at_end"] or {})),
            signature_digest=row["signature_digest"], status=row["status"], total=row["total"], done=row["done"],
            errors=row["errors"], elapsed_s=row["elapsed_s"], error=row["error"],
            class_names=tuple(row["class_names"] or ()), truth_summary=row["truth_summary"], owner=row["owner"],
            thumbnails=bool(row["thumbnails"]), started_by=row.get("started_by"),
            lease_expires_at=utc(row.get("lease_expires_at")), dataset_id=row.get("dataset_id"),
            dataset_version=row.get("dataset_version"), dataset_name=row.get("dataset_name"),
            keep_images=bool(row.get("keep_images")), profile=RunProfile.from_row(row))


@dataclass(frozen=True)
class RunSummary:
    """A run with the figures the History list shows."""
    run: RunInfo
    truth_known: int          # rows with a top class and an effective truth (correction or ground truth)
    correct: int
    corrections: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.truth_known if self.truth_known else None


@dataclass(frozen=True)
class Comparison:
    id: str
    created_at: datetime
    session_id: str | None
    baseline_run_id: str
    other_run_ids: tuple[str, ...]
    latency_probe: Mapping[str, Any] | None = None   # dashboard.runs.latency_probe's record, once measured


@dataclass(frozen=True)
class Observation:
    """What the server said at one time: a version's state (label None) or which version a label names."""
    url: str
    model: str
    version: int | None = None
    state: str | None = None
    error: str | None = None
    label: str | None = None
    label_version: int | None = None
    observed_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Observation":
        return cls(url=row["url"], model=row["model"], version=row["version"], state=row["state"],
                   error=row["error"], label=row["label"], label_version=row["label_version"],
                   observed_at=utc(row["observed_at"]))


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (so a reused pid is not taken for the old process)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()
    except (OSError, IndexError):
        return "0"


def process_owner() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"


def owner_is_dead(owner: str | None) -> bool:
    """True for a run owned by a process on this host that no longer exists (another host's runs are its own)."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    return started not in ("", "0") and _process_start(pid) != started
