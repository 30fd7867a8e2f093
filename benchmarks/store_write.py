"""Run store write and read speed: rows per second as the runner writes them (one transaction per batch).

    python -m benchmarks.store_write                       # a temporary SQLite file, and a temporary PostgreSQL
                                                           # (initdb/pg_ctl) when its binaries are installed
    python -m benchmarks.store_write --db postgresql://user@host/db --rows 20000 --batch 16

Each row is a full schema row of a 3-class model with a ~3 KB thumbnail, as RunManager stores them.
Prints, per database: rows/s written in batches, rows/s read back as a DataFrame (run_rows), and the
time to list runs (list_runs, with accuracy) once the run is stored.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from dashboard.runs.thumbnail_jpeg import thumbnail_jpeg
from client.store.database import open_store

ROOT = Path(__file__).resolve().parent.parent


def sample_thumbnail() -> bytes:
    import io

    from PIL import Image
    noise = Image.effect_noise((300, 200), 60).convert("RGB")  # noise: a realistic JPEG size, not a flat one
    out = io.BytesIO()
    noise.save(out, format="PNG")
    return thumbnail_jpeg(out.getvalue()) or b""


def rows_for(start: int, count: int, thumbnail: bytes) -> list[dict]:
    return [{"position": p, "source": f"batch.zip/pets/{('cat', 'dog', 'other')[p % 3]}/{p}.jpg",
             "top_class": "cat", "confidence": 0.8, "prob_cat": 0.8, "prob_dog": 0.15, "prob_other": 0.05,
             "ground_truth": ("cat", "dog", "other")[p % 3], "version": 2, "latency_ms": 41.5,
             "thumbnail": thumbnail} for p in range(start, start + count)]


def measure(url: str, total: int, batch: int) -> None:
    store = open_store(url)
    thumbnail = sample_thumbnail()
    run = store.create_run(kind="classify", url="http://127.0.0.1:8501", model="pets", target="label:stable",
                           total=total, class_names=("cat", "dog", "other"), status="running")
    started = time.perf_counter()
    for start in range(0, total, batch):
        store.add_rows(run.id, rows_for(start, min(batch, total - start), thumbnail))
    written = time.perf_counter() - started
    started = time.perf_counter()
    frame = store.run_rows(run.id)
    read = time.perf_counter() - started
    started = time.perf_counter()
    summaries = store.list_runs()
    listed = time.perf_counter() - started
    assert len(frame) == total and summaries[0].run.done == total
    print(f"{store.url.split('://')[0]:>20}  {total} rows in batches of {batch} (thumbnail {len(thumbnail)} B): "
          f"write {total / written:,.0f} rows/s ({written / (total / batch) * 1000:.1f} ms per batch), "
          f"read back {total / read:,.0f} rows/s, list_runs {listed * 1000:.0f} ms", flush=True)
    store.close()


@contextlib.contextmanager
def temporary_postgres() -> Iterator[str | None]:
    sys.path.insert(0, str(ROOT))
    from tests.pg import postgres_bin_dir, running_postgres
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        print("PostgreSQL: not measured (no /usr/lib/postgresql/*/bin; pass --db postgresql://...)")
        yield None
        return
    with running_postgres(bin_dir) as server:
        yield server.create_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", action="append", help="a database URL or path (repeatable); default: see above")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    if args.db:
        for url in args.db:
            measure(url, args.rows, args.batch)
        return
    with tempfile.TemporaryDirectory() as folder:
        measure(os.path.join(folder, "runs.db"), args.rows, args.batch)
    with temporary_postgres() as url:
        if url:
            measure(url, args.rows, args.batch)


if __name__ == "__main__":
    main()
