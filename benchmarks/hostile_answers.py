"""The client against a hostile model server: peak memory growth and seconds to the error, per crafted answer.

    python -m benchmarks.hostile_answers
    python -m benchmarks.hostile_answers --timeout 5 --trickle-seconds 1.5

tests/hostile_server.py runs in this process; each case runs in a fresh child process, which reads its resident
memory (VmRSS) after importing the client and its peak (ru_maxrss) after one `status()` call (timeout 5 s, one
retry, as the dashboard's Home page asks), and prints the difference and the seconds the call took. Cases: a 1.0 MB gzip
status inflating to 1 GiB, a status trickled one byte every 1.5 s (all of it, then the body only), and a
10,000-version status for comparison. The goal is at most +100 MiB per case.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from benchmarks.client_throughput import ROOT
from tests.hostile_server import GZIP_BOMB, MANY_VERSIONS, TRICKLE, TRICKLE_BODY, HostileServer, gzip_bomb

CASES = (
    (GZIP_BOMB, "gzip bomb, {bomb_mb:.2f} MB on the wire -> 1 GiB"),
    (TRICKLE, "status trickled 1 byte / {trickle:g} s (headers too)"),
    (TRICKLE_BODY, "status body trickled 1 byte / {trickle:g} s"),
    (MANY_VERSIONS, "status with 10,000 versions"),
)


def _resident_kib() -> int:
    """This process's resident memory now (Linux), else its peak so far, in KiB."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(url: str, model: str, timeout: float) -> None:
    """One status() call; prints {"outcome", "seconds", "rss_growth_mib"} as JSON."""
    from client import TFServingClient, TFServingError
    before = _resident_kib()
    started = time.perf_counter()
    try:
        with TFServingClient(url, model, timeout=timeout, retries=1) as tfs:
            outcome = f"{len(tfs.status())} versions"
    except TFServingError as exc:
        outcome = f"{type(exc).__name__}: {exc.error[:120]}"
    seconds = time.perf_counter() - started
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"outcome": outcome, "seconds": seconds, "rss_growth_mib": growth}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=5.0, help="the client's timeout (default: %(default)s)")
    parser.add_argument("--trickle-seconds", type=float, default=1.5, help="seconds per trickled byte")
    parser.add_argument("--child", nargs=2, metavar=("URL", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.timeout)
        return
    bomb_mb = len(gzip_bomb()) / 1e6
    with HostileServer(trickle_seconds=args.trickle_seconds, version_count=10_000) as server:
        for model, title in CASES:
            done = subprocess.run([sys.executable, "-m", "benchmarks.hostile_answers", "--timeout", str(args.timeout),
                                   "--child", server.url, model], cwd=ROOT, check=True, capture_output=True,
                                  text=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            name = title.format(bomb_mb=bomb_mb, trickle=args.trickle_seconds)
            print(f"{name:<48} {figures['seconds']:6.2f} s  peak RSS {figures['rss_growth_mib']:+6.1f} MiB  "
                  f"{figures['outcome']}")


if __name__ == "__main__":
    main()
