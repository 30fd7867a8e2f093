"""Client memory while classifying ever larger ZIP archives: peak RSS must not grow with the number of images.

    python -m benchmarks.client_memory                    # starts an embedded server on a free port
    python -m benchmarks.client_memory --url http://127.0.0.1:8501 --counts 200 1000 4000

For each count, a ZIP archive of that many photos (the 50 test photos, cycled; 1 in 100 replaced by a corrupt
file) is classified by a fresh `python -m client classify ARCHIVE --out FILE.csv` process against version 1, and
that process's peak resident memory (ru_maxrss of the child) is printed with its throughput and error rows.
The client holds at most batch_size × concurrency images at once, so the peaks should stay flat.
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from benchmarks.client_throughput import ROOT, benchmark_photos, pets_server

CORRUPT = b"\xff\xd8\xff\xe0 not really a JPEG"


def write_archive(path: Path, count: int, photos: list[Path]) -> None:
    # ZIP_STORED: JPEGs don't compress, and the client then reads members without inflating anything big.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(count):
            if i % 100 == 99:
                archive.writestr(f"corrupt_{i:05d}.jpg", CORRUPT)
            else:
                photo = photos[i % len(photos)]
                archive.write(photo, f"{i:05d}_{photo.name}")


def classify_in_child(url: str, archive: Path, out: Path, batch_size: int, concurrency: int) -> tuple[float, int]:
    """Run the CLI in a child process; return (seconds, peak RSS of that child in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "client", "classify", str(archive), "--url", url, "--version", "1",
                    "--batch-size", str(batch_size), "--concurrency", str(concurrency), "--out", str(out),
                    "--no-progress"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib <= before:
        # RUSAGE_CHILDREN keeps the largest child so far; a smaller child cannot be told apart from it.
        print(f"  (peak not above an earlier child's {before / 1024:.0f} MiB)")
    return elapsed, round(peak_kib / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="use this running server instead of starting one")
    parser.add_argument("--counts", type=int, nargs="+", default=[200, 1000, 4000])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    photos = benchmark_photos()
    with pets_server(args.url) as url, tempfile.TemporaryDirectory() as tmp:
        # Counts ascending, so each child's peak is visible in RUSAGE_CHILDREN if it is a new maximum.
        for count in sorted(args.counts):
            archive, out = Path(tmp) / f"photos_{count}.zip", Path(tmp) / f"results_{count}.csv"
            write_archive(archive, count, photos)
            elapsed, peak_mib = classify_in_child(url, archive, out, args.batch_size, args.concurrency)
            with open(out, newline="") as handle:
                rows = list(csv.DictReader(handle))
            errors = sum(1 for row in rows if row["error"])
            size_mib = os.path.getsize(archive) / 2**20
            print(f"{count:>6} images ({size_mib:6.1f} MiB zip): {len(rows)} rows, {errors} error rows, "
                  f"{count / elapsed:6.1f} images/s, client peak RSS {peak_mib} MiB")


if __name__ == "__main__":
    main()
