"""Datasets: named, versioned sets of stored images with their ground truth, in the run store and its image store.

    data = Datasets(store, open_image_store(store))
    build = data.create("march-audit", expand_sources(["audit/"]), truth="folders")   # version 1
    data.add_images("march-audit", expand_sources(["more.zip"]))                      # version 2: 1's images + these
    run = store.create_run(..., dataset=data.get("march-audit@2"))                    # rows at the items' positions
    data.apply_corrections(run.id)      # the run's corrections as version 3 ("applied 3 corrections … → version 3")

A version is a list of items (image hash, original name, truth); making one never changes another, so a run
points at the version it used and stays reproducible. Adding images or correcting truth makes a new version;
creating a dataset whose name exists is refused unless the caller asks for a new version (which then holds exactly
the images given). Inputs that cannot be read are listed in the build and left out (one bad file costs its own
item only); a full or unwritable image store fails the whole build and keeps none of its new images. Deleting a
dataset deletes its images that no other dataset and no run uses. Truth is stored as found ("Cats", from a folder)
and matched to a model's classes when a run uses it (client.truth).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Mapping

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from client.sources import Item, Loader
from client.store.database import Store, new_id
from client.store.dataset_corrections import CorrectionsMixin
from client.store.dataset_queries import DatasetReads, read_items
from client.store.dataset_records import (MAX_DATASET_IMAGES, MAX_TRUTH_CHARS, DatasetBuild, DatasetDeleted,
                                          DatasetError, DatasetExistsError, DatasetItem, DatasetNotFoundError,
                                          DatasetVersion, check_name)
from client.store.images import ImageStore, ImageStoreError
from client.store.records import StoreError
from client.store.tables import dataset_items, dataset_versions, datasets
from client.truth import keyed_table, lookup, truth_from_folder, truth_from_name

__all__ = ["Datasets", "TRUTH_METHODS", "truth_of"]

TRUTH_METHODS = ("folders", "names", "none")
_BATCH_IMAGES, _BATCH_BYTES = 64, 16 * 1024 * 1024   # images stored per transaction
_INSERT_ROWS = 5_000
RowsMaker = Callable[[Connection, str, "int | None"], "list[dict] | None"]


def truth_of(sources: Iterable[str], truth: str | Mapping[str, str] | None) -> dict[str, str]:
    """{source: label as found} by `truth`: "folders" (the nearest folder), "names" (the file name's leading word),
    "none", or a table from client.truth.read_truth_file (keyed by file name or path ending)."""
    if truth is None or truth == "none":
        return {}
    if isinstance(truth, str):
        if truth not in TRUTH_METHODS:
            raise ValueError(f"truth must be one of {list(TRUTH_METHODS)} or a truth table, not {truth!r}")
        read = truth_from_folder if truth == "folders" else truth_from_name
        return {source: label for source in sources if (label := read(source))}
    keyed = keyed_table(truth)
    return {source: label for source in sources if (label := lookup(source, keyed)) is not None}


@dataclass(frozen=True)
class _Taken:
    source: str
    sha256: str
    size_bytes: int
    load: Loader


def _failure(name: str, exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    return detail if detail.startswith(name) else f"{name}: {detail}"


class Datasets(DatasetReads, CorrectionsMixin):
    """The datasets of one run store, their images in `images`. Thread-safe, like the store."""

    def __init__(self, store: Store, images: ImageStore) -> None:
        self.store, self.images = store, images

    # -- making versions -----------------------------------------------------------------------------------------
    def create(self, name: str, items: Iterable[Item], *, truth: str | Mapping[str, str] | None = "none",
               new_version: bool = False, created_by: str | None = None) -> DatasetBuild:
        """A dataset `name` of these (source, loader) items (client.sources.expand_sources / expand_uploads): version
        1, or with `new_version` the next version of an existing one, holding exactly these images. DatasetExistsError
        (before anything is read) when the name exists and `new_version` is False. `created_by` (the SHA-256 hex
        digest of the creating browser's token; None for the CLI or a script) is kept by a new dataset only: a new
        version of an existing one keeps that dataset's creator."""
        name = check_name(name)
        truth_of((), truth)   # an unknown method is refused before anything is read
        if not new_version and self._exists(name):
            raise self._exists_error(name)
        taken, failed, stored = self._take(items)
        labels = self._labels(taken, truth, failed)

        def rows(conn: Connection, dataset_id: str, latest: int | None) -> list[dict]:
            return [self._row(position, item, labels.get(item.source)) for position, item in enumerate(taken)]
        note = f"created from {len(taken):,} image(s)" if not new_version else f"replaced by {len(taken):,} image(s)"
        version = self._save(name, rows, taken, mode="replace" if new_version else "create", note=note,
                             created_by=created_by)
        return DatasetBuild(version, added=len(taken), replaced=0, stored_images=stored[0], stored_bytes=stored[1],
                            failed=tuple(failed), truth_summary=self._truth_line(labels, taken))

    def add_images(self, name: str, items: Iterable[Item], *,
                   truth: str | Mapping[str, str] | None = "none") -> DatasetBuild:
        """The next version of dataset `name`: its newest version's images plus these; an image whose name is
        already there replaces it (bytes and truth) in its place."""
        name = check_name(name)
        truth_of((), truth)
        if not self._exists(name):
            raise DatasetNotFoundError(f"no dataset named {name!r}")
        taken, failed, stored = self._take(items)
        labels = self._labels(taken, truth, failed)
        counts = {"replaced": 0}

        def rows(conn: Connection, dataset_id: str, latest: int | None) -> list[dict]:
            previous = read_items(conn, dataset_id, latest) if latest is not None else []
            fresh = {item.source: item for item in taken}
            merged: list[dict] = []
            for old in previous:
                new = fresh.pop(old.source, None)
                merged.append(self._row(len(merged), new, labels.get(new.source)) if new else
                              self._item_row(len(merged), old))
            counts["replaced"] = len(taken) - len(fresh)
            merged += [self._row(len(merged) + i, item, labels.get(item.source)) for i, item in enumerate(fresh.values())]
            if len(merged) > MAX_DATASET_IMAGES:
                raise DatasetError(f"dataset {name!r} would hold {len(merged):,} images, over the limit of "
                                   f"{MAX_DATASET_IMAGES:,}")
            return merged
        version = self._save(name, rows, taken, mode="version", note=f"added {len(taken):,} image(s)")
        return DatasetBuild(version, added=len(taken) - counts["replaced"], replaced=counts["replaced"],
                            stored_images=stored[0], stored_bytes=stored[1], failed=tuple(failed),
                            truth_summary=self._truth_line(labels, taken))

    def delete(self, name: str, *, dataset_id: str | None = None) -> DatasetDeleted:
        """Delete a dataset with every version, then the images no other dataset and no run uses. Runs made on it
        stay (they name it, and find it gone). With `dataset_id`, only that dataset: DatasetNotFoundError when the
        name now belongs to another one (deleted and made again meanwhile)."""
        name = name.strip()
        with self.store._write(f"delete dataset {name!r}") as conn:
            head = conn.execute(select(datasets.c.id).where(datasets.c.name == name).with_for_update()).first()
            if head is None or (dataset_id is not None and head.id != dataset_id):
                raise DatasetNotFoundError(f"no dataset named {name!r}" if head is None else
                                           f"dataset {name!r} was deleted (the name now belongs to another dataset)")
            hashes = list(conn.execute(select(dataset_items.c.sha256).distinct()
                                       .where(dataset_items.c.dataset_id == head.id)).scalars())
            versions = conn.execute(select(func.count()).where(dataset_versions.c.dataset_id == head.id)).scalar_one()
            conn.execute(delete(dataset_items).where(dataset_items.c.dataset_id == head.id))
            conn.execute(delete(dataset_versions).where(dataset_versions.c.dataset_id == head.id))
            conn.execute(delete(datasets).where(datasets.c.id == head.id))
        return DatasetDeleted(name, int(versions), len(self.images.collect_garbage(hashes)))

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _exists(self, name: str) -> bool:
        with self.store._read(f"look up dataset {name!r}") as conn:
            return conn.execute(select(datasets.c.id).where(datasets.c.name == name)).first() is not None

    def _exists_error(self, name: str) -> DatasetExistsError:
        latest = self.get(name).version
        return DatasetExistsError(f"a dataset named {name!r} exists (version {latest}); ask for a new version "
                                  f"(--new-version) to make version {latest + 1} of it, or choose another name")

    def _take(self, items: Iterable[Item]) -> tuple[list[_Taken], list[str], tuple[int, int]]:
        """Read and store the items in batches: (taken, "name: why" for each input left out, (images, bytes)
        written). On a store failure the images stored so far that nothing uses are deleted again."""
        taken: list[_Taken] = []
        failed: list[str] = []
        seen: set[str] = set()
        batch: list[tuple[str, bytes, Loader]] = []
        written = [0, 0]

        def flush() -> None:
            for (source, data, load), image in zip(batch, self.images.put_many([(s, d) for s, d, _ in batch])):
                taken.append(_Taken(source, image.sha256, image.size_bytes, load))
                if image.new:
                    written[0] += 1
                    written[1] += image.size_bytes
            batch.clear()
        try:
            for source, load in items:
                if source in seen:
                    failed.append(f"{source}: listed twice; the first is kept")
                    continue
                if len(seen) >= MAX_DATASET_IMAGES:
                    failed.append(f"{source} and any after it: over the limit of {MAX_DATASET_IMAGES:,} images per "
                                  "dataset; not read")
                    break
                seen.add(source)
                try:
                    data = bytes(load())
                except Exception as exc:  # noqa: BLE001 - readers raise anything; one input, one line
                    failed.append(_failure(source, exc))
                    continue
                if not data:
                    failed.append(f"{source}: empty file (0 bytes), not an image")
                    continue
                batch.append((source, data, load))
                if len(batch) >= _BATCH_IMAGES or sum(len(d) for _, d, _ in batch) >= _BATCH_BYTES:
                    flush()
            if batch:
                flush()
        except BaseException:
            self._forget(taken)
            raise
        if not taken:
            raise DatasetError("no image could be stored" + (f": {failed[0]}" + (
                f" (and {len(failed) - 1} more)" if len(failed) > 1 else "") if failed else ": no images were given"))
        return taken, failed, (written[0], written[1])

    def _forget(self, taken: list[_Taken]) -> None:
        """Delete the images of a failed build that nothing else uses (best effort: a failure is logged)."""
        try:
            self.images.collect_garbage(item.sha256 for item in taken)
        except StoreError:
            pass  # the error that failed the build is the one to report; unused images go at the next deletion

    @staticmethod
    def _labels(taken: list[_Taken], truth: str | Mapping[str, str] | None, failed: list[str]) -> dict[str, str]:
        labels = truth_of([item.source for item in taken], truth)
        for source, label in list(labels.items()):
            if len(label) > MAX_TRUTH_CHARS:
                failed.append(f"{source}: its truth label has {len(label):,} characters, over {MAX_TRUTH_CHARS}; "
                              "stored without truth")
                del labels[source]
        return labels

    @staticmethod
    def _truth_line(labels: Mapping[str, str], taken: list[_Taken]) -> str:
        classes = len(set(labels.values()))
        return f"truth for {len(labels):,} of {len(taken):,} image(s), {classes} label(s)"

    @staticmethod
    def _row(position: int, item: _Taken, truth: str | None) -> dict:
        return {"position": position, "sha256": item.sha256, "source": item.source, "truth": truth,
                "size_bytes": item.size_bytes, "corrected_by_run": None}

    @staticmethod
    def _item_row(position: int, item: DatasetItem) -> dict:
        return {"position": position, "sha256": item.sha256, "source": item.source, "truth": item.truth,
                "size_bytes": item.size_bytes, "corrected_by_run": item.corrected_by_run}

    def _save(self, name: str, make_rows: RowsMaker, taken: list[_Taken], *, mode: str, note: str,
              dataset_id: str | None = None, created_by: str | None = None) -> DatasetVersion | None:
        """Write the next version of `name` (mode "create": a new dataset made by `created_by`; "replace"/"version":
        the next version of an existing one, which keeps its creator, or a new dataset for "replace") with
        make_rows(conn, dataset_id, newest version or None); None, writing nothing, when make_rows returns None. Taken images deleted as unused since they were stored
        are stored again once (the database refuses an item whose image row is gone)."""
        for attempt in (1, 2):
            try:
                with self.store._write(f"save dataset {name!r}") as conn:
                    head = conn.execute(select(datasets.c.id).where(datasets.c.name == name)
                                        .with_for_update()).first()
                    if head is not None and mode == "create":
                        raise DatasetExistsError(f"a dataset named {name!r} was created meanwhile; ask for a new "
                                                 "version, or choose another name")
                    if head is None and mode == "version":
                        raise DatasetNotFoundError(f"no dataset named {name!r} (it was deleted)")
                    if dataset_id is not None and (head is None or head.id != dataset_id):
                        raise DatasetNotFoundError(f"dataset {name!r} was deleted")
                    now = datetime.now(timezone.utc)
                    if head is None:
                        current, latest = new_id(), None
                        conn.execute(insert(datasets).values(id=current, name=name, created_at=now,
                                                             created_by=created_by))
                    else:
                        current = head.id
                        latest = conn.execute(select(func.max(dataset_versions.c.version)).where(
                            dataset_versions.c.dataset_id == current)).scalar_one()
                    records = make_rows(conn, current, latest)
                    if records is None:
                        return None
                    version = (latest or 0) + 1
                    conn.execute(insert(dataset_versions).values(dataset_id=current, version=version, created_at=now,
                                                                 note=note))
                    for start in range(0, len(records), _INSERT_ROWS):
                        conn.execute(insert(dataset_items), [{**record, "dataset_id": current, "version": version}
                                                             for record in records[start:start + _INSERT_ROWS]])
                return self.get(name, version)
            except StoreError as exc:
                if attempt == 2 or not isinstance(exc.__cause__, IntegrityError):
                    self._forget(taken)
                    raise
                self._store_again(taken)
        raise AssertionError("unreachable")

    def _store_again(self, taken: list[_Taken]) -> None:
        """Store again the taken images whose rows a concurrent deletion removed."""
        missing = {item.sha256 for item in taken} - self.images.indexed(item.sha256 for item in taken)
        again = {item.sha256: item for item in taken if item.sha256 in missing}
        try:
            self.images.put_many([(item.source, item.load()) for item in again.values()])
        except ImageStoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - the input changed or vanished since it was read
            raise DatasetError(f"an image was deleted from the image store while the dataset was saved, and reading "
                               f"it again failed: {exc}") from None
