"""The store's queries across runs: History's list and search, retention, comparisons, server
observations and exports. Mixed into client.store.database.Store (which supplies _read/_write/run_rows)."""
from __future__ import annotations

import io
import json
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, ContextManager, Iterable, Mapping, Sequence

import pandas as pd
from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from client import schema
from client.store.records import (Comparison, Observation, RunActiveError, RunInfo, RunSummary, StoreError,
                                     to_json_safe, utc)
from client.store.tables import comparison_runs, comparisons, observations, rows, runs
from client.store.texts import bounded_text, is_int64

EXPORT_FORMATS = ("csv", "json", "parquet")
SEARCH_COLUMNS = ["run_id", "created_at", "kind", "model", "target", "run_version", "position", "source",
                  "top_class", "confidence", "ground_truth", "correction", "error"]


class QueriesMixin:
    def _read(self, what: str) -> ContextManager[Connection]: ...  # provided by Store
    def _write(self, what: str) -> ContextManager[Connection]: ...  # provided by Store
    def run_rows(self, run_id: str) -> pd.DataFrame: ...  # provided by Store
    def get_run(self, run_id: str) -> RunInfo | None: ...  # provided by Store

    # -- History --------------------------------------------------------------------------------
    def list_runs(self, *, model: str | None = None, version: int | None = None, kind: str | None = None,
                  since: datetime | None = None, until: datetime | None = None, session_id: str | None = None,
                  limit: int | None = None, dataset_id: str | None = None,
                  dataset_version: int | None = None) -> list[RunSummary]:
        """Stored runs, newest first, with accuracy where truth is known and the number of corrections; `dataset_id`
        (and `dataset_version`): only the runs made on that dataset (version)."""
        truth = func.coalesce(rows.c.correction, rows.c.ground_truth)
        judged = and_(truth.is_not(None), rows.c.top_class.is_not(None))
        figures = (select(rows.c.run_id,
                          func.sum(case((judged, 1), else_=0)).label("truth_known"),
                          func.sum(case((and_(judged, rows.c.top_class == truth), 1), else_=0)).label("correct"),
                          func.count(rows.c.correction).label("corrections"))
                   .group_by(rows.c.run_id).subquery())
        query = (select(runs, figures.c.truth_known, figures.c.correct, figures.c.corrections)
                 .outerjoin(figures, figures.c.run_id == runs.c.id)
                 .order_by(runs.c.created_at.desc(), runs.c.id))
        for column, value in ((runs.c.model, model), (runs.c.version, version), (runs.c.kind, kind),
                              (runs.c.session_id, session_id), (runs.c.dataset_id, dataset_id),
                              (runs.c.dataset_version, dataset_version)):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(runs.c.created_at >= since)
        if until is not None:
            query = query.where(runs.c.created_at < until)
        if limit is not None:
            query = query.limit(limit)
        with self._read("list runs") as conn:
            return [RunSummary(run=RunInfo.from_row(row), truth_known=int(row["truth_known"] or 0),
                               correct=int(row["correct"] or 0), corrections=int(row["corrections"] or 0))
                    for row in conn.execute(query).mappings()]

    def search_sources(self, text: str, *, limit: int = 500) -> pd.DataFrame:
        """Rows of any run whose source contains `text` (case-insensitive), newest run first."""
        query = (select(runs.c.id.label("run_id"), runs.c.created_at, runs.c.kind, runs.c.model, runs.c.target,
                        runs.c.version.label("run_version"), rows.c.position, rows.c.source, rows.c.top_class,
                        rows.c.confidence, rows.c.ground_truth, rows.c.correction, rows.c.error)
                 .join(runs, runs.c.id == rows.c.run_id)
                 .where(func.lower(rows.c.source).contains(text.lower(), autoescape=True))
                 .order_by(runs.c.created_at.desc(), rows.c.position).limit(limit))
        with self._read(f"search file names for {text!r}") as conn:
            found = [dict(row) for row in conn.execute(query).mappings()]
        frame = pd.DataFrame(found, columns=SEARCH_COLUMNS)
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame

    # -- deleting ---------------------------------------------------------------------------------
    def delete_run(self, run_id: str) -> bool:
        """Delete one finished run, its rows and its comparisons; False when no such run is stored. Raises
        RunActiveError for a queued or running run, or one whose comparison still runs: nobody can delete those."""
        if self._delete_runs([run_id]):
            return True
        run = self.get_run(run_id)
        if run is None:
            return False
        if not run.finished:
            raise RunActiveError(f"run {run_id} is {run.status}: a queued or running run cannot be deleted (cancel "
                                 "it and wait for it to end)")
        raise RunActiveError(f"run {run_id} belongs to a comparison that is still running: it cannot be deleted "
                             "until every side has ended")

    def clear_all(self) -> int:
        """Delete every finished run, its rows and comparisons (observations stay: they describe the server, not
        runs; queued and running runs stay: nobody can delete those). Returns how many were deleted."""
        with self._read("list runs") as conn:
            every = list(conn.execute(select(runs.c.id)).scalars())
        return len(self._delete_runs(every))

    def apply_retention(self, max_runs: int) -> list[str]:
        """Keep the newest `max_runs` finished runs; delete older finished ones. Returns the deleted ids."""
        if max_runs < 0:
            raise ValueError(f"max_runs must be >= 0, got {max_runs}")
        with self._read("list runs") as conn:
            finished = list(conn.execute(select(runs.c.id).where(runs.c.status.not_in(("queued", "running")))
                                         .order_by(runs.c.created_at.desc(), runs.c.id)).scalars())
        return self._delete_runs(finished[max_runs:])

    def _delete_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Delete those of `run_ids` that may be deleted (finished, and in no comparison with an unfinished run),
        deciding and deleting in one transaction; returns the ids deleted."""
        unfinished = runs.c.status.in_(("queued", "running"))
        busy_comparisons = (select(comparison_runs.c.comparison_id)
                            .join(runs, runs.c.id == comparison_runs.c.run_id).where(unfinished))
        busy_members = select(comparison_runs.c.run_id).where(comparison_runs.c.comparison_id.in_(busy_comparisons))
        deleted: list[str] = []
        for start in range(0, len(run_ids), 500):  # bounded IN lists
            chunk = list(run_ids[start:start + 500])
            with self._write(f"delete {len(chunk)} run(s)") as conn:
                allowed = set(conn.execute(select(runs.c.id).where(
                    runs.c.id.in_(chunk) & ~unfinished & runs.c.id.not_in(busy_members))
                    .order_by(runs.c.id).with_for_update()).scalars())
                chunk = [run_id for run_id in chunk if run_id in allowed]
                if not chunk:
                    continue
                linked = select(comparison_runs.c.comparison_id).where(comparison_runs.c.run_id.in_(chunk))
                doomed_comparisons = list(conn.execute(linked).scalars())
                conn.execute(delete(comparison_runs).where(comparison_runs.c.comparison_id.in_(doomed_comparisons)))
                conn.execute(delete(comparisons).where(comparisons.c.id.in_(doomed_comparisons)))
                conn.execute(delete(rows).where(rows.c.run_id.in_(chunk)))
                conn.execute(delete(runs).where(runs.c.id.in_(chunk)))
                deleted += chunk
        return deleted

    # -- comparisons ------------------------------------------------------------------------------
    def save_comparison(self, baseline_run_id: str, other_run_ids: Sequence[str], *,
                        session_id: str | None = None) -> Comparison:
        if not other_run_ids:
            raise ValueError("a comparison needs at least one run besides the baseline")
        record = Comparison(id=uuid.uuid4().hex[:12], created_at=datetime.now(timezone.utc), session_id=session_id,
                            baseline_run_id=baseline_run_id, other_run_ids=tuple(other_run_ids))
        members = [{"comparison_id": record.id, "position": i, "run_id": run_id}
                   for i, run_id in enumerate([baseline_run_id, *other_run_ids])]
        with self._write("save a comparison") as conn:
            conn.execute(insert(comparisons).values(id=record.id, created_at=record.created_at,
                                                    session_id=session_id, baseline_run_id=baseline_run_id))
            conn.execute(insert(comparison_runs), members)
        return record

    def get_comparison(self, comparison_id: str) -> Comparison | None:
        with self._read(f"read comparison {comparison_id}") as conn:
            head = conn.execute(select(comparisons).where(comparisons.c.id == comparison_id)).mappings().first()
            if head is None:
                return None
            members = list(conn.execute(select(comparison_runs.c.run_id).where(
                comparison_runs.c.comparison_id == comparison_id).order_by(comparison_runs.c.position)).scalars())
        return Comparison(id=head["id"], created_at=utc(head["created_at"]), session_id=head["session_id"],
                          baseline_run_id=head["baseline_run_id"], other_run_ids=tuple(members[1:]),
                          latency_probe=head.get("latency_probe"))

    def save_latency_probe(self, comparison_id: str, probe: Mapping[str, Any]) -> None:
        """Keep the comparison's latency probe (plain JSON values; dashboard.runs.latency_probe makes it)."""
        with self._write(f"save the latency probe of comparison {comparison_id}") as conn:
            found = conn.execute(update(comparisons).where(comparisons.c.id == comparison_id).values(
                latency_probe=to_json_safe(dict(probe)))).rowcount
        if not found:
            raise LookupError(f"comparison {comparison_id} is not stored")

    def comparisons_of_run(self, run_id: str) -> list[Comparison]:
        """The comparisons that hold this run (a History link names one side's run), newest first."""
        with self._read(f"find the comparisons of run {run_id}") as conn:
            ids = list(conn.execute(
                select(comparisons.c.id).join(comparison_runs, comparison_runs.c.comparison_id == comparisons.c.id)
                .where(comparison_runs.c.run_id == run_id).order_by(comparisons.c.created_at.desc())).scalars())
        return [found for comparison_id in ids if (found := self.get_comparison(comparison_id)) is not None]

    # -- what the server did --------------------------------------------------------------------------
    def record_observation(self, observation: Observation) -> bool:
        """Store it if it changes what was last seen for that version (or label); returns whether it did."""
        return self.record_observations([observation]) == 1

    def record_observations(self, seen: Iterable[Observation]) -> int:
        """Store each observation that changes what was last seen for its version (or label), in one transaction
        with one query for what was last seen; returns how many were stored. Server texts are stored within
        MAX_SERVER_TEXT_CHARS; a version that is not int64 raises StoreError and stores nothing."""
        batch = [_storable(observation) for observation in seen]
        if not batch:
            return 0
        fresh: list[dict[str, Any]] = []
        with self._write("record server observations") as conn:
            last = _last_seen(conn, {(o.url, o.model) for o in batch})
            for observation in batch:
                key, now = _seen_key(observation), _seen_value(observation)
                if last.get(key) != now:
                    last[key] = now
                    fresh.append(dict(observed_at=observation.observed_at, url=observation.url,
                                      model=observation.model, version=observation.version, state=observation.state,
                                      error=observation.error, label=observation.label,
                                      label_version=observation.label_version))
            if fresh:
                conn.execute(insert(observations), fresh)
        return len(fresh)

    def observations(self, model: str, *, since: datetime | None = None, url: str | None = None) -> list[Observation]:
        """State changes and label moves of a model, oldest first."""
        query = select(observations).where(observations.c.model == model)
        if since is not None:
            query = query.where(observations.c.observed_at >= since)
        if url is not None:
            query = query.where(observations.c.url == url)
        with self._read(f"read observations of {model}") as conn:
            return [Observation.from_row(row) for row in
                    conn.execute(query.order_by(observations.c.observed_at, observations.c.id)).mappings()]

    # -- export --------------------------------------------------------------------------------------
    def export_runs(self, run_ids: Sequence[str], format: str = "csv") -> bytes:
        """The runs' rows in the CLI's columns (client.schema); several runs get a leading run_id column."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"export format must be one of {EXPORT_FORMATS}, not {format!r}")
        frames, class_names = [], []
        for run_id in run_ids:
            run = self.get_run(run_id)
            if run is None:
                raise LookupError(f"run {run_id} is not stored")
            class_names += [name for name in run.class_names if name not in class_names]
            frames.append(self.run_rows(run_id).reset_index(drop=True).assign(run_id=run_id))
        names = ([] if len(frames) == 1 else ["run_id"]) + schema.columns(class_names)
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=names)
        frame = frame.reindex(columns=names)
        if format == "csv":
            return schema.to_csv_bytes(frame, columns=names)
        if format == "json":
            records = json.loads(frame.to_json(orient="records", force_ascii=False))
            return json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8")
        out = io.BytesIO()
        try:
            frame.to_parquet(out, index=False)
        except ImportError as exc:
            raise ValueError(f"Parquet export needs pyarrow installed ({exc})") from None
        return out.getvalue()


# -- observations: what "the same" version or label is, and what it was last seen as ------------------------------
MAX_STATE_CHARS = 32    # observations.state's width


def _storable(observation: Observation) -> Observation:
    for name in ("version", "label_version"):
        value = getattr(observation, name)
        if value is not None and not is_int64(value):
            raise StoreError(f"a server observation's {name} ({bounded_text(value, 40)}) is not a signed 64-bit "
                             "integer, as TF Serving's versions are")
    state = observation.state
    if state is not None and len(state) > MAX_STATE_CHARS:
        state = state[:MAX_STATE_CHARS - 1] + "…"
    error = bounded_text(observation.error) if observation.error else None
    return replace(observation, state=state, error=error)


def _seen_key(observation: Observation) -> tuple[Any, ...]:
    if observation.label is not None:
        return observation.url, observation.model, observation.label, None
    return observation.url, observation.model, None, observation.version


def _seen_value(observation: Observation) -> tuple[Any, ...]:
    if observation.label is not None:
        return (observation.label_version,)
    return observation.state, observation.error or None


def _last_seen(conn: Connection, servers: set[tuple[str, str]]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """_seen_key -> _seen_value of the newest stored observation of each version and label of these servers'
    models, in one query."""
    version_key = case((observations.c.label.is_(None), observations.c.version), else_=None)
    newest_first = func.row_number().over(
        partition_by=(observations.c.url, observations.c.model, observations.c.label, version_key),
        order_by=(observations.c.observed_at.desc(), observations.c.id.desc()))
    which = or_(*(and_(observations.c.url == url, observations.c.model == model) for url, model in servers))
    ranked = select(observations.c.url, observations.c.model, observations.c.label, version_key.label("key_version"),
                    observations.c.state, observations.c.error, observations.c.label_version,
                    newest_first.label("rank")).where(which).subquery()
    found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in conn.execute(select(ranked).where(ranked.c.rank == 1)).mappings():
        key = (row["url"], row["model"], row["label"], row["key_version"])
        found[key] = (row["label_version"],) if row["label"] is not None else (row["state"], row["error"] or None)
    return found
