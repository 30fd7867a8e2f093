"""A run's corrections offered back to the dataset it ran on, and applied as the dataset's next version.

An analyst's correction on a row of a run made on dataset version N sets the truth of the same image (same name,
same bytes) in the dataset's newest version; corrections the newest version already has are counted as unchanged,
images no longer in it as not found. Applying makes one new version, or none when nothing would change.
Mixed into client.store.datasets.Datasets.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from client.store.database import Store
from client.store.dataset_queries import read_items
from client.store.dataset_records import CorrectionsPlan, DatasetError, DatasetNotFoundError
from client.store.records import RunInfo
from client.store.tables import dataset_versions, datasets, rows

__all__ = ["CorrectionsMixin"]


def _plan(conn: Connection, run: RunInfo, name: str, latest: int) -> CorrectionsPlan:
    corrected = conn.execute(select(rows.c.position, rows.c.correction).where(
        (rows.c.run_id == run.id) & rows.c.correction.is_not(None)).order_by(rows.c.position)).all()
    used = {item.position: item for item in read_items(conn, run.dataset_id, run.dataset_version)}
    newest = {(item.source, item.sha256): item for item in read_items(conn, run.dataset_id, latest)}
    changes: dict[int, str] = {}
    unchanged, not_found = 0, []
    for position, correction in corrected:
        item = used.get(position)
        target = newest.get((item.source, item.sha256)) if item is not None else None
        if target is None:
            not_found.append(item.source if item is not None else f"row {position}")
        elif target.truth == correction:
            unchanged += 1
        else:
            changes[target.position] = correction
    return CorrectionsPlan(run_id=run.id, dataset_id=run.dataset_id, name=name, latest_version=latest,
                           corrections=len(changes), unchanged=unchanged, not_found=tuple(not_found),
                           changes=changes)


class CorrectionsMixin:
    store: Store

    def _save(self, *args: Any, **kwargs: Any) -> Any: ...  # provided by Datasets

    def correction_plan(self, run_id: str) -> CorrectionsPlan | None:
        """What applying the run's corrections would do (plan.text(): "apply 3 corrections to dataset 'march-audit' →
        version 4"); None for a run not made on a dataset; DatasetNotFoundError when its dataset was deleted."""
        run = self._run(run_id)
        if run.dataset_id is None:
            return None
        with self.store._read(f"read the corrections of run {run_id}") as conn:
            head = conn.execute(select(datasets.c.name, func.max(dataset_versions.c.version))
                                .join(dataset_versions, dataset_versions.c.dataset_id == datasets.c.id)
                                .where(datasets.c.id == run.dataset_id).group_by(datasets.c.name)).first()
            if head is None:
                raise DatasetNotFoundError(f"the dataset of run {run_id} ({run.dataset_name!r}) was deleted")
            return _plan(conn, run, head[0], head[1])

    def apply_corrections(self, run_id: str) -> CorrectionsPlan:
        """The run's corrections as the dataset's next version (plan.version; None when nothing changed):
        plan.text() says "applied 3 corrections to dataset 'march-audit' → version 4"."""
        plan = self.correction_plan(run_id)
        if plan is None:
            raise DatasetError(f"run {run_id} was not made on a dataset: its corrections have no dataset to go to")
        if not plan.corrections:
            return plan
        run = self._run(run_id)
        found: dict[str, CorrectionsPlan] = {"plan": plan}

        def make_rows(conn: Connection, dataset_id: str, latest: int | None) -> list[dict] | None:
            fresh = found["plan"] = _plan(conn, run, plan.name, latest)   # against the newest version, as locked
            if not fresh.corrections:
                return None
            return [{"position": item.position, "sha256": item.sha256, "source": item.source,
                     "truth": fresh.changes.get(item.position, item.truth), "size_bytes": item.size_bytes,
                     "corrected_by_run": run_id if item.position in fresh.changes else item.corrected_by_run}
                    for item in read_items(conn, dataset_id, latest)]
        count = plan.corrections
        version = self._save(plan.name, make_rows, [], mode="version", dataset_id=plan.dataset_id,
                             note=f"{count} correction{'s' if count != 1 else ''} from run {run_id}")
        return replace(found["plan"], version=version.version if version is not None else None)

    def _run(self, run_id: str) -> RunInfo:
        run = self.store.get_run(run_id)
        if run is None:
            raise DatasetNotFoundError(f"run {run_id} is not in the run store")
        return run
