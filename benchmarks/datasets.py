"""Datasets: storing 1,000 photos as a dataset (seconds, disk used, duplicates stored once) and starting a run from it.

    python -m benchmarks.datasets                       # 1,000 photos of ../shared/train, SQLite, a local image store
    python -m benchmarks.datasets --photos 500 --duplicates 50 --db postgresql://user@host/db

The photos (400 cats, 400 dogs, 200 others by default) plus `--duplicates` of them again under other names go into
one ZIP (deflated, as zip tools make them) in a temporary folder, the upload an analyst would make. Prints:
Run on a temporary SQLite file and, when its binaries are installed, a temporary PostgreSQL (as store_write does):
- storing it as a dataset (`Datasets.create`, truth from folders): seconds, images/s, MB read, and the disk the
  image store and the run store grew by; then the same ZIP as a second dataset (every image already stored);
- starting a run: the time until the run has its list of images (expand_sources on the ZIP, or the dataset's
  version and items from the store), and the time to read every image's bytes as the run reads them (inflating
  ZIP members, or reading the image store's objects checked against their hashes). No model server is involved.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from benchmarks.store_write import temporary_postgres
from client.sources import expand_sources
from client.store import Datasets, open_image_store, open_store

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT.parent / "shared" / "train"
MB = 1_000_000


def pick_photos(total: int) -> list[Path]:
    """40% cats, 40% dogs, 20% others (the first of each folder, by name)."""
    shares = {"cat": total * 2 // 5, "dog": total * 2 // 5}
    shares["other"] = total - sum(shares.values())
    photos = []
    for label, count in shares.items():
        found = sorted((TRAIN / label).glob("*"))
        if len(found) < count:
            sys.exit(f"{TRAIN / label} has {len(found)} photos; {count} are needed")
        photos += found[:count]
    return photos


def build_zip(path: Path, photos: list[Path], duplicates: int) -> int:
    """The upload: every photo under its label's folder, the first `duplicates` again under dup/. Returns bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:   # as zip tools make them
        for photo in photos:
            archive.write(photo, f"{photo.parent.name}/{photo.name}")
        for photo in photos[:duplicates]:
            archive.write(photo, f"dup/{photo.parent.name}-{photo.name}")
    return path.stat().st_size


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk under `path`, a folder, or by the SQLite file `path` with its WAL (as du counts)."""
    if path.is_dir():
        return sum(item.stat().st_blocks * 512 for item in path.rglob("*") if item.is_file())
    return sum(item.stat().st_blocks * 512 for item in path.parent.glob(path.name + "*") if item.is_file())


def read_all(items) -> tuple[int, float]:
    started = time.perf_counter()
    size = sum(len(load()) for _, load in items)
    return size, time.perf_counter() - started


def measure(db: str | None, work: Path, upload: Path, zip_size: int, total: int) -> None:
    """Store the upload as two datasets in the run store `db` (None: a SQLite file in `work`), then start runs."""
    database = work / "runs.db"
    store = open_store(db or database)
    blobs = work / f"blobs-{store.engine.dialect.name}"
    datasets = Datasets(store, open_image_store(store, blobs, quota_bytes=None))
    db_before = disk_bytes(database)
    print(f"-- run store {store.engine.dialect.name}, image store a local folder")
    started = time.perf_counter()
    build = datasets.create("benchmark", expand_sources([upload]), truth="folders")
    seconds = time.perf_counter() - started
    grown = disk_bytes(database) - db_before if db is None else None
    print(f"store as a dataset: {seconds:.2f} s ({total / seconds:,.0f} images/s, {zip_size / MB / seconds:.1f} "
          f"MB/s); {build.version.images:,} items, {build.stored_images:,} images stored "
          f"({build.stored_bytes / MB:.1f} MB of photos), image store on disk {disk_bytes(blobs) / MB:.1f} MB"
          + (f", run store grew {grown / MB:.2f} MB" if grown is not None else ""))
    started = time.perf_counter()
    again = datasets.create("benchmark copy", expand_sources([upload]), truth="folders")
    seconds = time.perf_counter() - started
    print(f"the same ZIP as a second dataset: {seconds:.2f} s; {again.stored_images} new images stored, image "
          f"store on disk {disk_bytes(blobs) / MB:.1f} MB")
    for label, start in (("the ZIP", lambda: list(expand_sources([upload]))),
                         ("the dataset", lambda: datasets.sources(datasets.get("benchmark")))):
        started = time.perf_counter()
        items = start()
        listed = time.perf_counter() - started
        size, read = read_all(items)
        print(f"run from {label}: {len(items):,} images listed in {listed * 1000:.0f} ms; all read in "
              f"{read:.2f} s ({size / MB:.1f} MB, {len(items) / read:,.0f} images/s)")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--duplicates", type=int, default=100, help="photos uploaded twice (default: %(default)s)")
    parser.add_argument("--db", help="a run store URL (default: a temporary SQLite file, then a temporary "
                                     "PostgreSQL when its binaries are installed)")
    args = parser.parse_args()
    if not TRAIN.is_dir():
        sys.exit(f"training photos not found at {TRAIN}")
    photos = pick_photos(args.photos)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        upload = work / "upload.zip"
        zip_size = build_zip(upload, photos, args.duplicates)
        total = len(photos) + args.duplicates
        print(f"upload: {total:,} images ({len(photos):,} photos + {args.duplicates} duplicates under other names), "
              f"ZIP {zip_size / MB:.1f} MB")
        if args.db:
            measure(args.db, work, upload, zip_size, total)
            return
        measure(None, work, upload, zip_size, total)
        with temporary_postgres() as url:
            if url:
                measure(url, work, upload, zip_size, total)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    main()
