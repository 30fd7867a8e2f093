"""The dashboard process's memory with 1, 3 and 10 concurrent sessions, each classifying a 1,000-image ZIP.

    python -m benchmarks.dashboard_memory                     # sessions 1, 3, 10
    python -m benchmarks.dashboard_memory --sessions 1 3 --images 500

Real browser sessions: for each count a fresh `streamlit run` (as `make run` starts it) and one headless
Chromium with that many browser contexts (separate sessions, as separate analysts). Every context uploads the
ZIP (made at run time from ../shared/images, as benchmarks.dashboard_classify does) and presses Classify; the
runs go through the app's RunManager (SERVESCOPE_MAX_RUNS at once, the rest queued). Printed per count: the
dashboard's RSS before, its peak (sampled every 0.2 s, and the kernel's high-water mark VmHWM), when every
session shows its results, and 15 s after the contexts close. Chromium's own memory is not counted.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.dashboard_classify import (
    dashboard,
    launch_browser,
    make_zip,
    model_server,
    upload_and_press,
    wait_for_results,
)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB (Linux /proc)."""
    found = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


class PeakSampler:
    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, memory_kib(self.pid)["VmRSS"])
            time.sleep(self.interval)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def measure(sessions: int, server_url: str, archive: Path, folder: Path) -> None:
    from playwright.sync_api import sync_playwright
    with dashboard(server_url, folder / f"runs-{sessions}.db") as (dashboard_url, process):
        pid = process.pid
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            contexts = [browser.new_context(viewport={"width": 1400, "height": 1200}) for _ in range(sessions)]
            pages = [context.new_page() for context in contexts]
            for page in pages:
                page.set_default_timeout(900_000)
                page.goto(dashboard_url)
            time.sleep(2)
            before = memory_kib(pid)["VmRSS"]
            started = time.perf_counter()
            with PeakSampler(pid) as sampler:
                # Each session uploads and presses in turn; the runs overlap.
                runs = [upload_and_press(page, dashboard_url, archive)[1] for page in pages]
                for page, run_id in zip(pages, runs):
                    wait_for_results(page, run_id)
                shown = memory_kib(pid)
                elapsed = time.perf_counter() - started
                for context in contexts:
                    context.close()
                time.sleep(15)
            after = memory_kib(pid)["VmRSS"]
            browser.close()
    print(f"{sessions:>2} session(s): RSS before {mib(before)}, peak {mib(max(sampler.peak, shown['VmRSS']))} "
          f"(VmHWM {mib(shown['VmHWM'])}), with every result shown {mib(shown['VmRSS'])}, 15 s after the sessions "
          f"closed {mib(after)}; {elapsed:.0f} s for all runs", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="servescope-memory-") as tmp:
        folder = Path(tmp)
        archive = make_zip(folder, args.images)
        print(f"{args.images}-image ZIP of {archive.stat().st_size / 1e6:.1f} MB per session; "
              f"SERVESCOPE_MAX_RUNS={os.environ.get('SERVESCOPE_MAX_RUNS', '2')} runs at once", flush=True)
        with model_server() as server_url:
            for sessions in args.sessions:
                measure(sessions, server_url, archive, folder)


if __name__ == "__main__":
    main()
