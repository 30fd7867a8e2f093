"""The run store: every stored run, its rows, comparisons and server observations (SQLAlchemy Core).

Where: `SERVESCOPE_DB`, a file path or a SQLAlchemy URL. Unset, it is `<data folder>/servescope.db`,
the data folder being `SERVESCOPE_DATA_DIR` or else `~/.local/share/servescope`. SQLite runs in WAL
mode with a busy timeout (readers never wait for the writer; writers queue instead of failing). For a
team, `SERVESCOPE_DB=postgresql://user:pass@host/db` (psycopg 3) lets several dashboards share one
history. The schema is created and migrated on open (client.store.tables).

Callers get frozen records and DataFrames in client.schema's columns, never SQL. Every failure to open,
read or write raises StoreError saying what failed and why; it calls the database "the run store" and never
quotes its path or URL (a PostgreSQL URL may carry a password), which go to the log. A SQLite store remembers
which file it opened (device and inode) and refuses every read and write once that file is deleted or replaced,
rather than carry on with a file nobody will find again. Run-level queries live here; lists, searches, exports
and observations in client.store.queries (mixed into Store).
"""
from __future__ import annotations

import numbers
import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ContextManager, Iterator, Mapping, Sequence

import pandas as pd
from sqlalchemy import Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from client import schema
from client.store.engine import (
    DEFAULT_BUSY_TIMEOUT_S,
    FILE_GONE,
    LOG,
    STORE_FAILURES,
    DatabaseFile,
    database_url,
    default_database_path,
    make_engine,
    reason,
    shown_url,
)
from client.store.queries import QueriesMixin
from client.store.records import (
    FINAL_STATUSES,
    RUN_STATUSES,
    Comparison,
    Observation,
    RunInfo,
    RunProfile,
    RunSummary,
    StoreError,
    owner_is_dead,
    process_owner,
    to_json_safe,
    utc,
)
from client.store.tables import SchemaTooNewError, migrate, rows, runs
from client.store.texts import bounded_text, is_int64

__all__ = ["Store", "StoreError", "RunInfo", "RunProfile", "RunSummary", "Comparison", "Observation", "open_store",
           "database_url", "default_database_path", "new_id", "FILE_GONE"]

_UNFINISHED = ("queued", "running")
_ROW_FIELDS = ("source", "top_class", "confidence", "ground_truth", "correction", "corrected_at", "version",
               "latency_ms", "error", "error_type")


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_version(version: Any, what: str) -> None:
    if isinstance(version, numbers.Integral) and not is_int64(version):
        raise StoreError(f"{what} ({bounded_text(version, 40)}) is not a signed 64-bit integer, as TF Serving's "
                         "versions are")


def open_store(url_or_path: str | os.PathLike | None = None, *,
               busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> "Store":
    """Open (creating or migrating) the store at `url_or_path`, `SERVESCOPE_DB` or the default file."""
    url = database_url(url_or_path)
    try:
        store = Store(make_engine(url, busy_timeout_s), shown_url(url), database_file=DatabaseFile.of(url))
        with store._writer.begin() as conn:
            migrate(conn)
        if store._file is not None:
            store._file.remember()
    except SchemaTooNewError as exc:
        LOG.error("the run store %s: %s", shown_url(url), exc)
        raise StoreError(f"the run store: {exc}") from None
    except (*STORE_FAILURES, ImportError, ValueError) as exc:
        LOG.error("cannot open the run store %s: %s", shown_url(url), exc)
        raise StoreError(f"cannot open the run store: {reason(exc)}") from exc
    return store


class Store(QueriesMixin):
    """One database; thread-safe (each call takes a pooled connection). Close it with close()."""

    def __init__(self, engine: Engine, url_for_log: str, *, database_file: DatabaseFile | None = None) -> None:
        self.engine = engine
        self.url = url_for_log                     # for the log (password hidden); never shown on a page
        self._writer = engine.execution_options(servescope_write=True)
        self._file = database_file                 # a SQLite store's file, watched for deletion or replacement

    def close(self) -> None:
        self.engine.dispose()

    def _write(self, what: str) -> ContextManager[Connection]:
        """A transaction; committed when the block ends, StoreError("could not <what> in the run store: ...")."""
        return self._guarded(what, "in", self._writer.begin)

    def _read(self, what: str) -> ContextManager[Connection]:
        """A connection for reading; StoreError("could not <what> from the run store: ...")."""
        return self._guarded(what, "from", self.engine.connect)

    @contextmanager
    def _guarded(self, what: str, preposition: str,
                 connect: Callable[[], ContextManager[Connection]]) -> Iterator[Connection]:
        """The file check, then `connect()`; a database failure is logged (with the URL, password hidden) and
        raised as a StoreError without it."""
        if self._file is not None:
            self._file.check()
        try:
            with connect() as conn:
                yield conn
        except STORE_FAILURES as exc:
            LOG.error("could not %s %s the run store %s: %s", what, preposition, self.url, exc)
            raise StoreError(f"could not {what} {preposition} the run store: {reason(exc)}") from exc

    # -- runs -----------------------------------------------------------------------------------
    def create_run(self, *, kind: str, url: str, model: str, target: str, total: int,
                   class_names: Sequence[str] = (), session_id: str | None = None, status: str = "queued",
                   truth_summary: str | None = None, thumbnails: bool = True, owner: str | None = None,
                   run_id: str | None = None, started_by: str | None = None,
                   lease_s: float | None = None, dataset: Any = None, keep_images: bool = False) -> RunInfo:
        """A new run. `started_by`: the digest of the browser that started it (None: no browser did);
        `lease_s`: its lease, which the owning process then renews (renew_leases); None: no lease. `dataset`: the
        client.store.datasets.DatasetVersion it runs on (its rows' positions are the items'); `keep_images`: the
        analyst keeps its images (ImageStore.keep_run_images refuses them otherwise)."""
        if kind not in ("classify", "compare"):
            raise ValueError(f"kind must be 'classify' or 'compare', not {kind!r}")
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {RUN_STATUSES}, not {status!r}")
        values = dict(id=run_id or new_id(), created_at=_now(), kind=kind, session_id=session_id, url=url,
                      model=model, target=target, status=status, total=int(total), done=0, errors=0,
                      class_names=list(class_names), truth_summary=truth_summary, labels_at_start={},
                      labels_at_end={}, owner=owner or process_owner(), thumbnails=thumbnails, started_by=started_by,
                      keep_images=bool(keep_images))
        if dataset is not None:
            values.update(dataset_id=dataset.dataset_id, dataset_version=dataset.version, dataset_name=dataset.name)
        with self._write(f"create a run of {model}") as conn:
            if lease_s is not None:
                values["lease_expires_at"] = self._database_now(conn) + timedelta(seconds=lease_s)
            conn.execute(insert(runs).values(**values))
        return self._get_run_or_raise(values["id"])

    def update_progress(self, run_id: str, *, status: str | None = None, version: int | None = None,
                        labels_at_start: Mapping[str, int] | None = None, signature_digest: str | None = None,
                        class_names: Sequence[str] | None = None, elapsed_s: float | None = None,
                        profile: RunProfile | None = None) -> None:
        """Set what a running run has learnt (done and errors are counted by add_rows); `profile`: the model
        profile it uses (its rows' `profile` column reads its digest)."""
        values: dict[str, Any] = {}
        if status is not None:
            if status not in ("queued", "running"):
                raise ValueError(f"use finish_run for a final status ({status!r})")
            values["status"] = status
        _check_version(version, f"the version of run {run_id}")
        for name, value in (("version", version), ("signature_digest", signature_digest),
                            ("elapsed_s", elapsed_s)):
            if value is not None:
                values[name] = value
        if labels_at_start is not None:
            values["labels_at_start"] = dict(labels_at_start)
        if class_names is not None:
            values["class_names"] = list(class_names)
        if profile is not None:
            values.update(profile.columns())
        if values:
            with self._write(f"update run {run_id}") as conn:
                conn.execute(update(runs).where(runs.c.id == run_id).values(**values))

    def add_rows(self, run_id: str, new_rows: Sequence[Mapping[str, Any]]) -> None:
        """Write result rows (schema keys + `position`, optional `thumbnail` bytes and `extras`) in one
        transaction; a row at a position already stored replaces it (a retry). Counts follow the rows."""
        if not new_rows:
            return
        records = []
        for row in new_rows:
            record = {name: row.get(name) for name in _ROW_FIELDS}
            record.update(run_id=run_id, position=int(row["position"]), thumbnail=row.get("thumbnail"),
                          extras=to_json_safe(row.get("extras") or None),
                          probabilities=to_json_safe({name[len(schema.PROB_PREFIX):]: value
                                                      for name, value in row.items()
                                                      if str(name).startswith(schema.PROB_PREFIX)}) or None)
            record = {k: (None if schema.is_missing(v) else v) for k, v in record.items()}
            _check_version(record["version"], f"the version of row {record['position']} of run {run_id}")
            if isinstance(record["corrected_at"], str):
                record["corrected_at"] = datetime.fromisoformat(record["corrected_at"])
            records.append(record)
        positions = [record["position"] for record in records]
        new_errors = sum(record["error"] is not None for record in records)
        with self._write(f"store {len(records)} row(s) of run {run_id}") as conn:
            where = (rows.c.run_id == run_id) & rows.c.position.in_(positions)
            replaced, replaced_errors = conn.execute(
                select(func.count(), func.count(rows.c.error)).where(where)).one()
            if replaced:
                conn.execute(delete(rows).where(where))
            conn.execute(insert(rows), records)
            conn.execute(update(runs).where(runs.c.id == run_id).values(
                done=runs.c.done + len(records) - replaced, errors=runs.c.errors + new_errors - replaced_errors))

    def finish_run(self, run_id: str, status: str, *, error: str | None = None, elapsed_s: float | None = None,
                   labels_at_end: Mapping[str, int] | None = None) -> RunInfo:
        if status not in FINAL_STATUSES:
            raise ValueError(f"a final status is one of {sorted(FINAL_STATUSES)}, not {status!r}")
        values: dict[str, Any] = dict(status=status, error=error, finished_at=_now())
        if elapsed_s is not None:
            values["elapsed_s"] = elapsed_s
        if labels_at_end is not None:
            values["labels_at_end"] = dict(labels_at_end)
        with self._write(f"finish run {run_id}") as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
        return self._get_run_or_raise(run_id)

    def reopen_run(self, run_id: str, *, lease_s: float | None = None) -> None:
        """Back to 'running' for a retry (the finish time is cleared; the counts stay the rows'), owned by this
        process, with a lease of `lease_s` seconds when given."""
        with self._write(f"reopen run {run_id}") as conn:
            values: dict[str, Any] = dict(status="running", finished_at=None, error=None, owner=process_owner())
            if lease_s is not None:
                values["lease_expires_at"] = self._database_now(conn) + timedelta(seconds=lease_s)
            conn.execute(update(runs).where(runs.c.id == run_id).values(**values))

    def mark_interrupted_runs(self) -> list[RunInfo]:
        """At startup: queued/running runs whose owning process on this host has ended become 'interrupted'."""
        with self._read("list unfinished runs") as conn:
            unfinished = [RunInfo.from_row(r) for r in conn.execute(
                select(runs).where(runs.c.status.in_(("queued", "running")))).mappings()]
        orphaned = [run for run in unfinished if owner_is_dead(run.owner)]
        for run in orphaned:
            self.finish_run(run.id, "interrupted", error=f"the app stopped with {run.done} of {run.total} done")
        return [self._get_run_or_raise(run.id) for run in orphaned]

    def set_correction(self, run_id: str, source: str, correction: str | None) -> int:
        """Set (or clear, with None) the analyst's class for `source` in a run; returns the rows changed."""
        corrected_at = _now() if correction is not None else None
        with self._write(f"store a correction for {source}") as conn:
            changed = conn.execute(update(rows).where((rows.c.run_id == run_id) & (rows.c.source == source))
                                   .values(correction=correction, corrected_at=corrected_at)).rowcount
        if not changed:
            raise LookupError(f"run {run_id} has no row for {source!r}")
        return changed

    def get_run(self, run_id: str) -> RunInfo | None:
        with self._read(f"read run {run_id}") as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        return RunInfo.from_row(row) if row else None

    def _get_run_or_raise(self, run_id: str) -> RunInfo:
        run = self.get_run(run_id)
        if run is None:
            raise StoreError(f"run {run_id} is not in the run store")
        return run

    def run_rows(self, run_id: str) -> pd.DataFrame:
        """The run's rows in client.schema's columns, indexed by position (input order)."""
        run = self._get_run_or_raise(run_id)
        fields = [rows.c[name] for name in ("position", "probabilities", *_ROW_FIELDS)]
        with self._read(f"read the rows of run {run_id}") as conn:
            stored = conn.execute(select(*fields).where(rows.c.run_id == run_id).order_by(rows.c.position)).mappings()
            records = [self._schema_row(run, row) for row in stored]
        frame = pd.DataFrame(records, columns=["position", *schema.columns(run.class_names)])
        frame = frame.set_index("position")
        numbers = {schema.prob_column(name): "float64" for name in run.class_names}
        return frame.astype({**numbers, "confidence": "float64", "latency_ms": "float64", "version": "Int64",
                             "correct": "boolean"})

    @staticmethod
    def _schema_row(run: RunInfo, row: Mapping[str, Any]) -> dict[str, Any]:
        record = {name: row[name] for name in ("position", *_ROW_FIELDS)}
        probabilities = row["probabilities"] or {}
        record.update({schema.prob_column(name): probabilities.get(name) for name in run.class_names})
        record["corrected_at"] = utc(record["corrected_at"]).isoformat() if record["corrected_at"] else None
        record.update(model=run.model, target=run.target, profile=run.profile.digest if run.profile else None,
                      correct=schema.is_correct(record["top_class"], schema.effective_truth(record)))
        return record

    def run_thumbnails(self, run_id: str) -> dict[int, bytes]:
        """position -> JPEG bytes, for the rows that have one."""
        with self._read(f"read the thumbnails of run {run_id}") as conn:
            found = conn.execute(select(rows.c.position, rows.c.thumbnail).where(
                (rows.c.run_id == run_id) & rows.c.thumbnail.is_not(None)))
            return {position: bytes(data) for position, data in found}

    def thumbnail_count(self, run_id: str) -> int:
        """How many of the run's rows have a thumbnail (they can arrive after the rows: add_thumbnails)."""
        with self._read(f"count the thumbnails of run {run_id}") as conn:
            return conn.execute(select(func.count()).where(
                (rows.c.run_id == run_id) & rows.c.thumbnail.is_not(None))).scalar_one()

    def add_thumbnails(self, run_id: str, thumbnails: Mapping[int, bytes]) -> None:
        """Set the thumbnails (position -> JPEG bytes) of rows already stored, in one transaction; a position
        with no stored row is left as it is."""
        if not thumbnails:
            return
        where = (rows.c.run_id == bindparam("run")) & (rows.c.position == bindparam("at"))
        statement = update(rows).where(where).values(thumbnail=bindparam("jpeg"))
        values = [{"run": run_id, "at": int(position), "jpeg": data} for position, data in thumbnails.items()]
        with self._write(f"store {len(values)} thumbnail(s) of run {run_id}") as conn:
            conn.execute(statement, values)

    def run_extras(self, run_id: str) -> dict[int, dict]:
        """position -> the model's other outputs (e.g. ImageNet top-5), for the rows that have them."""
        with self._read(f"read the extra outputs of run {run_id}") as conn:
            found = conn.execute(select(rows.c.position, rows.c.extras).where(
                (rows.c.run_id == run_id) & rows.c.extras.is_not(None)))
            return {position: dict(extras) for position, extras in found if extras}

    def failed_positions(self, run_id: str) -> list[int]:
        with self._read(f"read the failed rows of run {run_id}") as conn:
            return list(conn.execute(select(rows.c.position).where(
                (rows.c.run_id == run_id) & rows.c.error.is_not(None)).order_by(rows.c.position)).scalars())

    # -- leases: a queued or running run is held by the process that renews its lease -------------------------
    @staticmethod
    def _database_now(conn: Connection) -> datetime:
        """The database's clock on PostgreSQL (one clock for the leases of every replica, whatever their hosts'
        clocks say), this host's for a SQLite file (which only processes on this host share)."""
        if conn.dialect.name == "postgresql":
            return utc(conn.execute(select(func.now())).scalar_one())
        return _now()

    def renew_leases(self, run_ids: Sequence[str], *, lease_s: float, owner: str | None = None) -> set[str]:
        """Extend to `lease_s` seconds from now the leases of those runs still queued or running and owned by
        `owner` (this process by default); returns the ids renewed. A run left out was finished, deleted, or
        settled as interrupted by another replica after its lease expired."""
        if not run_ids:
            return set()
        owner = owner or process_owner()
        held = runs.c.id.in_(list(run_ids)) & (runs.c.owner == owner) & runs.c.status.in_(_UNFINISHED)
        with self._write(f"renew the leases of {len(run_ids)} run(s)") as conn:
            expires = self._database_now(conn) + timedelta(seconds=lease_s)
            # Rows are locked in id order everywhere (here, interrupt_expired_leases): replicas never deadlock.
            renewed = set(conn.execute(select(runs.c.id).where(held).order_by(runs.c.id).with_for_update()).scalars())
            if renewed:
                conn.execute(update(runs).where(runs.c.id.in_(sorted(renewed))).values(lease_expires_at=expires))
        return renewed

    def interrupt_expired_leases(self) -> list[RunInfo]:
        """Queued or running runs whose lease expired (the process holding them stopped renewing it: it died, or
        lost the database) become 'interrupted', their stored rows kept; returns them. A run with no lease is left
        to mark_interrupted_runs."""
        def expired(now: datetime):
            return (runs.c.status.in_(_UNFINISHED) & runs.c.lease_expires_at.is_not(None)
                    & (runs.c.lease_expires_at < now))
        with self._read("look for runs whose lease expired") as conn:
            if not conn.execute(select(runs.c.id).where(expired(self._database_now(conn))).limit(1)).first():
                return []
        settled = []
        with self._write("settle the runs whose lease expired") as conn:
            now = self._database_now(conn)
            found = conn.execute(select(runs.c.id, runs.c.done, runs.c.total).where(expired(now))
                                 .order_by(runs.c.id).with_for_update()).all()
            for run_id, done, total in found:
                conn.execute(update(runs).where((runs.c.id == run_id) & expired(now)).values(
                    status="interrupted", finished_at=now,
                    error=f"the dashboard running it stopped (its lease expired) with {done} of {total} done"))
                settled.append(run_id)
        return [self._get_run_or_raise(run_id) for run_id in settled]
