"""What the server did over time: version states and label moves, recorded as store Observations.

`observe()` asks the server once (one status request, then one metadata request per label, never one per version)
and records what it saw in one store transaction; the store keeps only changes (Store.record_observations compares
with the last stored state of that version or label), so the Models page can call it every few seconds and every
run start can call it too (the client refuses a version number outside int64, as TF Serving's cannot be). The
frames below turn the stored observations into per-version timelines (LOADING -> AVAILABLE -> UNLOADING -> END,
with errors, bounded by client.store.texts.bounded_text) and label histories, for dashboard.models.charts; a
timeline can be cut to the versions that changed last. No streamlit here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from client import TFServingClient, TFServingError, VersionNotAvailableError
from client.protocol import VersionStatus, model_path
from dashboard.config import STATUS_TIMEOUT_S
from client.store.database import Observation, Store
from client.store.texts import bounded_text

__all__ = ["ObserveResult", "observe", "observe_with", "observations_from_status", "read_labels", "version_timeline",
           "label_history", "latest_labels", "fetch_raw_answers", "default_watch_client", "watch_seconds",
           "recently_changed", "WATCH_SETTING", "TIMELINE_COLUMNS", "LABEL_COLUMNS", "TIMELINE_VERSIONS"]

ClientFactory = Callable[[str, str], TFServingClient]
WATCH_SETTING = "SERVESCOPE_WATCH_SECONDS"
DEFAULT_WATCH_S = 5.0
TIMELINE_COLUMNS = ["version", "state", "start", "end", "error"]
LABEL_COLUMNS = ["label", "version", "start", "end"]
TIMELINE_VERSIONS = 20   # versions one timeline draws


def watch_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """How often the Models page asks the server while open (SERVESCOPE_WATCH_SECONDS; 0 = it only shows what
    was recorded, e.g. at run starts)."""
    text = (environ.get(WATCH_SETTING) or "").strip()
    if not text:
        return DEFAULT_WATCH_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:  # NaN fails this too
        raise ValueError(f"{WATCH_SETTING} must be a number of seconds from 0 to 86400, not {text!r}")
    return seconds


def default_watch_client(url: str, model: str) -> TFServingClient:
    # Short timeout and no retries: a watcher that asks every few seconds must not pile up waiting requests.
    return TFServingClient(url, model, timeout=STATUS_TIMEOUT_S, retries=0)


@dataclass(frozen=True)
class ObserveResult:
    observed_at: datetime
    statuses: tuple[VersionStatus, ...]
    labels: Mapping[str, int | None]       # None: the server says the label names no available version
    label_errors: Mapping[str, str] = field(default_factory=dict)  # labels that could not be asked about
    recorded: int = 0                      # observations that were changes (and so were stored)


def _status_error(status: VersionStatus) -> str | None:
    if status.error_code in ("", "OK"):
        return None
    return bounded_text(status.error_message or status.error_code)


def observations_from_status(url: str, model: str, statuses: Iterable[VersionStatus],
                             labels: Mapping[str, int | None], observed_at: datetime) -> list[Observation]:
    """One Observation per version (its state and bounded error) and per label (its version, None when unassigned)."""
    seen = [Observation(url, model, version=s.version, state=s.state, error=_status_error(s),
                        observed_at=observed_at) for s in statuses]
    seen += [Observation(url, model, label=label, label_version=version, observed_at=observed_at)
             for label, version in sorted(labels.items())]
    return seen


def read_labels(client: TFServingClient, labels: Sequence[str]) -> tuple[dict[str, int | None], dict[str, str]]:
    """label -> version via `/labels/L/metadata`; an unknown or unavailable label maps to None (a fact worth
    recording), any other failure (server gone, timeout) goes to the second dict and records nothing."""
    found: dict[str, int | None] = {}
    failed: dict[str, str] = {}
    for label in dict.fromkeys(name for name in labels if name):
        try:
            found[label] = client.resolve_version(label=label)
        except VersionNotAvailableError:
            found[label] = None
        except TFServingError as exc:
            failed[label] = f"{type(exc).__name__}: {exc.error}"
    return found, failed


def observe(url: str, model: str, labels: Sequence[str], store: Store,
            client_factory: ClientFactory = default_watch_client) -> ObserveResult:
    """Ask the server once and record every change. Raises the client's TFServingError when the status cannot
    be read (nothing is recorded then), StoreError when the store cannot record."""
    with client_factory(url, model) as client:
        return observe_with(client, url, labels, store)


def observe_with(client: TFServingClient, url: str, labels: Sequence[str], store: Store) -> ObserveResult:
    """observe() over a client the caller already holds (a run start: its labels are the run's labels_at_start).
    `url` is the address runs are stored under, so History can match a run with what its server did."""
    statuses = client.status()
    found, failed = read_labels(client, labels)
    observed_at = datetime.now(timezone.utc)
    recorded = store.record_observations(observations_from_status(url, client.model, statuses, found, observed_at))
    return ObserveResult(observed_at, statuses, found, failed, recorded)


def _now(now: datetime | None) -> pd.Timestamp:
    return pd.Timestamp(now or datetime.now(timezone.utc))


def version_timeline(observations: Iterable[Observation], now: datetime | None = None) -> pd.DataFrame:
    """version, state, start, end, error: one row per stretch of a version in one state. A stretch ends when the
    next observation of that version begins; the last one runs to `now` (END included, so it stays visible)."""
    per_version: dict[int, list[Observation]] = {}
    for seen in observations:
        if seen.label is None and seen.version is not None:
            per_version.setdefault(seen.version, []).append(seen)
    rows: list[dict[str, Any]] = []
    end_of_all = _now(now)
    for version, history in sorted(per_version.items()):
        history.sort(key=lambda o: o.observed_at)
        for this, following in zip(history, [*history[1:], None]):
            rows.append({"version": version, "state": this.state, "start": pd.Timestamp(this.observed_at),
                         "end": pd.Timestamp(following.observed_at) if following else end_of_all,
                         "error": bounded_text(this.error) if this.error else this.error})
    return _frame(rows, TIMELINE_COLUMNS)


def recently_changed(timeline: pd.DataFrame, count: int = TIMELINE_VERSIONS) -> tuple[pd.DataFrame, int]:
    """The stretches of the `count` versions whose state changed last (ties: the higher version), and how many
    versions the timeline holds."""
    if timeline.empty:
        return timeline, 0
    last_change = timeline.groupby("version")["start"].max().reset_index()
    last_change = last_change.sort_values(["start", "version"], ascending=False, kind="stable")
    kept = set(last_change["version"].head(count))
    return timeline[timeline["version"].isin(kept)], len(last_change)


def label_history(observations: Iterable[Observation], now: datetime | None = None) -> pd.DataFrame:
    """label, version, start, end: which version each label named, and from when to when (version None: none)."""
    per_label: dict[str, list[Observation]] = {}
    for seen in observations:
        if seen.label is not None:
            per_label.setdefault(seen.label, []).append(seen)
    rows: list[dict[str, Any]] = []
    end_of_all = _now(now)
    for label, history in sorted(per_label.items()):
        history.sort(key=lambda o: o.observed_at)
        for this, following in zip(history, [*history[1:], None]):
            rows.append({"label": label, "version": this.label_version, "start": pd.Timestamp(this.observed_at),
                         "end": pd.Timestamp(following.observed_at) if following else end_of_all})
    return _frame(rows, LABEL_COLUMNS)


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    frame["version"] = frame["version"].astype("Int64")
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def latest_labels(store: Store, url: str, model: str) -> dict[str, int | None]:
    """label -> the version it named when last observed at this server (None: it named none)."""
    latest: dict[str, int | None] = {}
    for seen in store.observations(model, url=url):  # oldest first, so the newest wins
        if seen.label is not None:
            latest[seen.label] = seen.label_version
    return latest


def fetch_raw_answers(client: TFServingClient, labels: Sequence[str] = ()) -> dict[str, Any]:
    """The server's own JSON for the status and metadata requests, keyed by request path; a request that fails
    is shown as {"failed": <HTTP status or None>, "error": "<class>: <reason>"} in its place (the others still
    show)."""
    base = model_path(client.model)
    requests = [(base, {}), (base + "/metadata", {"metadata": True}),
                *((model_path(client.model, label=label) + "/metadata", {"label": label, "metadata": True})
                  for label in dict.fromkeys(labels) if label)]
    answers: dict[str, Any] = {}
    for path, options in requests:
        try:
            # Unparsed: the parsed calls (status/metadata) drop fields the operator may want to see here.
            answers[path] = client.raw_answer(**options)
        except TFServingError as exc:
            answers[path] = {"failed": exc.status, "error": f"{type(exc).__name__}: {exc.error}"}
    return answers
