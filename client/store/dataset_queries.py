"""Reading datasets: versions, items, the listing's summaries, exports, and the images of a stored run.
Mixed into client.store.datasets.Datasets (which supplies `store` and `images`)."""
from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any, Sequence

import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from client import schema
from client.sources import Item
from client.store.database import Store
from client.store.dataset_records import (DatasetItem, DatasetNotFoundError, DatasetSummary, DatasetVersion,
                                          parse_reference)
from client.store.images import ImageStore, MissingImageError
from client.store.records import RunSummary, utc
from client.store.tables import dataset_items, dataset_versions, datasets, rows, run_images, runs

__all__ = ["DatasetReads", "EXPORT_COLUMNS", "EXPORT_FORMATS"]

EXPORT_FORMATS = ("csv", "jsonl", "parquet")
EXPORT_COLUMNS = ["dataset", "version", "position", "source", "truth", "sha256", "size_bytes", "corrected_by_run"]


def _version_query():
    """Versions with their image and truth counts, joined to their dataset's name and creator."""
    counts = (select(dataset_items.c.dataset_id, dataset_items.c.version, func.count().label("images"),
                     func.count(dataset_items.c.truth).label("truth_known"))
              .group_by(dataset_items.c.dataset_id, dataset_items.c.version).subquery())
    return (select(dataset_versions, datasets.c.name, datasets.c.created_by,
                   func.coalesce(counts.c.images, 0).label("images"),
                   func.coalesce(counts.c.truth_known, 0).label("truth_known"))
            .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
            .outerjoin(counts, and_(counts.c.dataset_id == dataset_versions.c.dataset_id,
                                    counts.c.version == dataset_versions.c.version)))


def _version(row: Any) -> DatasetVersion:
    return DatasetVersion(dataset_id=row["dataset_id"], name=row["name"], version=row["version"],
                          created_at=utc(row["created_at"]), note=row["note"], images=int(row["images"]),
                          truth_known=int(row["truth_known"]), created_by=row["created_by"])


def read_items(conn: Connection, dataset_id: str, version: int) -> list[DatasetItem]:
    found = conn.execute(select(dataset_items).where((dataset_items.c.dataset_id == dataset_id)
                                                     & (dataset_items.c.version == version))
                         .order_by(dataset_items.c.position)).mappings()
    return [DatasetItem(position=row["position"], sha256=row["sha256"], source=row["source"], truth=row["truth"],
                        size_bytes=int(row["size_bytes"]), corrected_by_run=row["corrected_by_run"]) for row in found]


class DatasetReads:
    store: Store
    images: ImageStore

    def get(self, reference: str, version: int | None = None) -> DatasetVersion:
        """A version by `NAME`, `NAME@VERSION` or (`NAME`, version); the newest when none is named.
        DatasetNotFoundError naming what is missing."""
        reference = reference.strip()   # names are stored without surrounding spaces
        attempts = [(reference, version)]
        if version is None and parse_reference(reference)[1] is not None:
            attempts.append(parse_reference(reference))   # an exact name ending in @N is found first
        for name, wanted in attempts:
            with self.store._read(f"read dataset {name!r}") as conn:
                query = _version_query().where(datasets.c.name == name)
                query = query.where(dataset_versions.c.version == wanted) if wanted is not None else \
                    query.order_by(dataset_versions.c.version.desc()).limit(1)
                row = conn.execute(query).mappings().first()
                if row is not None:
                    return _version(row)
                exists = conn.execute(select(datasets.c.id).where(datasets.c.name == name)).first()
            if exists is not None and wanted is not None:
                raise DatasetNotFoundError(f"dataset {name!r} has no version {wanted}")
        raise DatasetNotFoundError(f"no dataset named {reference!r}")

    def find(self, dataset_id: str) -> DatasetVersion | None:
        """The newest version of a dataset by id, or None once it is deleted (History: "the dataset is gone")."""
        with self.store._read("read a dataset") as conn:
            row = conn.execute(_version_query().where(dataset_versions.c.dataset_id == dataset_id)
                               .order_by(dataset_versions.c.version.desc()).limit(1)).mappings().first()
        return _version(row) if row is not None else None

    def versions(self, name: str) -> list[DatasetVersion]:
        """Every version of a dataset, oldest first."""
        name = name.strip()
        with self.store._read(f"read the versions of dataset {name!r}") as conn:
            found = [_version(row) for row in conn.execute(
                _version_query().where(datasets.c.name == name).order_by(dataset_versions.c.version)).mappings()]
        if not found:
            raise DatasetNotFoundError(f"no dataset named {name!r}")
        return found

    def items(self, version: DatasetVersion) -> list[DatasetItem]:
        with self.store._read(f"read the images of dataset {version.name!r}") as conn:
            return read_items(conn, version.dataset_id, version.version)

    def sources(self, version: DatasetVersion) -> list[Item]:
        """(source, loader) per image, in position order: what client.sources.expand_sources gives for paths. A
        loader raises MissingImageError naming its image when the image store has lost it."""
        return [(item.source, self.images.loader(item.sha256, item.source)) for item in self.items(version)]

    def runs(self, version: DatasetVersion, *, every_version: bool = True) -> list[RunSummary]:
        """The runs made on this dataset (on any version, or on this one only), newest first."""
        return self.store.list_runs(dataset_id=version.dataset_id,
                                    dataset_version=None if every_version else version.version)

    def summaries(self) -> list[DatasetSummary]:
        """Every dataset, by name: its newest version's images, bytes, truth coverage, class balance, and its runs."""
        newest = (select(dataset_versions.c.dataset_id, func.max(dataset_versions.c.version).label("version"))
                  .group_by(dataset_versions.c.dataset_id).subquery())
        latest = and_(dataset_items.c.dataset_id == newest.c.dataset_id, dataset_items.c.version == newest.c.version)
        with self.store._read("list datasets") as conn:
            heads = {row["dataset_id"]: row for row in conn.execute(
                _version_query().join(newest, and_(newest.c.dataset_id == dataset_versions.c.dataset_id,
                                                   newest.c.version == dataset_versions.c.version))
                .add_columns(datasets.c.created_at.label("dataset_created_at"))).mappings()}
            sizes = dict(conn.execute(select(dataset_items.c.dataset_id, func.sum(dataset_items.c.size_bytes))
                                      .join(newest, latest).group_by(dataset_items.c.dataset_id)).all())
            balance: dict[str, Counter] = {}
            for dataset_id, truth, count in conn.execute(
                    select(dataset_items.c.dataset_id, dataset_items.c.truth, func.count()).join(newest, latest)
                    .where(dataset_items.c.truth.is_not(None))
                    .group_by(dataset_items.c.dataset_id, dataset_items.c.truth)):
                balance.setdefault(dataset_id, Counter())[truth] = int(count)
            run_counts = dict(conn.execute(select(runs.c.dataset_id, func.count()).where(
                runs.c.dataset_id.in_(list(heads))).group_by(runs.c.dataset_id)).all()) if heads else {}
        summaries = [DatasetSummary(
            dataset_id=dataset_id, name=row["name"], created_at=utc(row["dataset_created_at"]),
            latest_version=row["version"], updated_at=utc(row["created_at"]), images=int(row["images"]),
            bytes=int(sizes.get(dataset_id) or 0), truth_known=int(row["truth_known"]),
            class_balance=dict(sorted(balance.get(dataset_id, Counter()).items(), key=lambda kv: (-kv[1], kv[0]))),
            runs=int(run_counts.get(dataset_id, 0)), created_by=row["created_by"]) for dataset_id, row in heads.items()]
        return sorted(summaries, key=lambda summary: summary.name)

    def export(self, version: DatasetVersion, format: str = "csv") -> bytes:
        """The version's items in EXPORT_COLUMNS as CSV (formula-safe), JSON Lines or Parquet. Its `source` and
        `truth` columns make it a truth file for `dataset create --truth`."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"export format must be one of {EXPORT_FORMATS}, not {format!r}")
        records = [{"dataset": version.name, "version": version.version, "position": item.position,
                    "source": item.source, "truth": item.truth, "sha256": item.sha256, "size_bytes": item.size_bytes,
                    "corrected_by_run": item.corrected_by_run} for item in self.items(version)]
        if format == "csv":
            return schema.to_csv_bytes(records, columns=EXPORT_COLUMNS)
        if format == "jsonl":
            return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode("utf-8")
        frame = pd.DataFrame.from_records(records, columns=EXPORT_COLUMNS)
        out = io.BytesIO()
        try:
            frame.astype({"version": "int64", "position": "int64", "size_bytes": "int64"}).to_parquet(out, index=False)
        except ImportError as exc:
            raise ValueError(f"Parquet export needs pyarrow installed ({exc})") from None
        return out.getvalue()

    # -- the images of a stored run (its kept images, or its dataset version's) ---------------------------------
    def run_items(self, run_id: str) -> list[Item]:
        """(source, loader) for each image of a stored run, in position order: the images it kept, or the items of
        the dataset version it ran on. MissingImageError saying why when there are none: the run kept no images,
        or its dataset was deleted."""
        found = self._run_images(run_id, None)
        return [(source, self.images.loader(sha, source)) for _, (source, sha) in sorted(found.items())]

    def run_image(self, run_id: str, position: int) -> bytes:
        """The full image behind one row of a stored run; MissingImageError naming it when it is not kept."""
        found = self._run_images(run_id, [position])
        if position not in found:
            raise MissingImageError(f"run {run_id} has no image at position {position}")
        source, sha = found[position]
        return self.images.read(sha, source)

    def _run_images(self, run_id: str, positions: Sequence[int] | None) -> dict[int, tuple[str, str]]:
        """position -> (source, sha256) of a stored run's images (of `positions`, else all)."""
        run = self.store.get_run(run_id)
        if run is None:
            raise DatasetNotFoundError(f"run {run_id} is not in the run store")
        with self.store._read(f"read the images of run {run_id}") as conn:
            if run.dataset_id is not None:
                query = select(dataset_items.c.position, dataset_items.c.source, dataset_items.c.sha256).where(
                    (dataset_items.c.dataset_id == run.dataset_id) & (dataset_items.c.version == run.dataset_version))
                position = dataset_items.c.position
            else:
                query = (select(run_images.c.position, rows.c.source, run_images.c.sha256)
                         .outerjoin(rows, and_(rows.c.run_id == run_images.c.run_id, rows.c.position == run_images.c.position))
                         .where(run_images.c.run_id == run_id))
                position = run_images.c.position
            if positions is not None:
                query = query.where(position.in_(list(positions)))
            found = {at: (source or f"image {at} of run {run_id}", sha) for at, source, sha in conn.execute(query)}
            if found or positions is not None:
                return found
            if run.dataset_id is not None:
                gone = conn.execute(select(datasets.c.id).where(datasets.c.id == run.dataset_id)).first() is None
        if run.dataset_id is not None:
            raise MissingImageError(f"the dataset of run {run_id} ({run.dataset_name!r}) was deleted: its images are "
                                    "gone" if gone else f"run {run_id}'s dataset version has no images")
        raise MissingImageError(f"run {run_id} did not keep its images")
