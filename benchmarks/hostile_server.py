"""Home against a hostile model server: seconds until Home is drawn, and the dashboard's peak RSS growth.

    python -m benchmarks.hostile_server                       # 10,000 versions, then the gzip bomb
    python -m benchmarks.hostile_server --versions 2000 --cases many_versions

The crafted TF Serving of tests/hostile_server.py answers, per model name, with 10,000 AVAILABLE versions
(`many_versions`) or a status of about 1 MB on the wire that inflates to 1 GiB (`gzip_bomb`). For each case a fresh
`streamlit run` (as `make run` starts it, its own SQLite run store) and headless Chromium (Playwright) open Home with
a one-version model (`max_version`) first, so the baseline includes the page's first drawing; then the model name in
the sidebar is changed to the case's, and the time runs from pressing Enter until Home shows its answer: the
"Connected" line, or the error box for a refused answer (checked in the page every 50 ms). The dashboard's RSS is
sampled every 20 ms from 1 s before the change to 2 s after the answer, and its kernel high-water mark (VmHWM) is
read too. Printed per case: the time, RSS before, peak and growth, the metadata requests the server received, and
the first line the page showed (goals: Home drawn in < 10 s, RSS growth <= +100 MiB).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


from benchmarks.dashboard_classify import ROOT, dashboard, launch_browser
from benchmarks.dashboard_memory import PeakSampler, memory_kib

sys.path.insert(0, str(ROOT))
from tests.hostile_server import GZIP_BOMB, MANY_VERSIONS, MAX_VERSION, HostileServer  # noqa: E402

CASES = (MANY_VERSIONS, GZIP_BOMB)
_ANSWERED = """() => {
    const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
    const text = (el) => el.textContent.replace(/\u2060/g, "");
    return [...document.querySelectorAll('[data-testid="stAlert"] [data-testid="stMarkdownContainer"]')]
        .filter((el) => shown(el) && !text(el).includes("max_version"))
        .map((el) => text(el)).find((t) => t.length > 0) || null;
}"""


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def measure(case: str, server: HostileServer, folder: Path) -> None:
    from playwright.sync_api import expect, sync_playwright
    with (dashboard(server.url, folder / f"{case}.db", model=MAX_VERSION) as (url, proc),
          sync_playwright() as playwright):
        browser = launch_browser(playwright)
        page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
        page.set_default_timeout(300_000)
        page.goto(url)
        expect(page.get_by_test_id("stAlert").filter(has_text="Connected to")).to_be_visible(timeout=120_000)
        page.wait_for_timeout(2000)   # the first drawing settles
        metadata_before = server.count("/metadata")
        with PeakSampler(proc.pid, interval=0.02) as sampler:
            time.sleep(1.0)
            before = memory_kib(proc.pid)["VmRSS"]
            field = page.get_by_role("textbox", name="Model name")
            field.fill(case)
            started = time.perf_counter()
            field.press("Enter")
            handle = page.wait_for_function(_ANSWERED, polling=50, timeout=300_000)
            seconds = time.perf_counter() - started
            shown = handle.json_value()
            time.sleep(2.0)
        after = memory_kib(proc.pid)
        browser.close()
    peak = max(sampler.peak, after["VmRSS"])
    print(f"{case}: Home drawn in {seconds:.1f} s; dashboard RSS before {mib(before)}, peak {mib(peak)} "
          f"(+{mib(peak - before)}; VmHWM {mib(after['VmHWM'])}); {server.count('/metadata') - metadata_before} "
          f"metadata request(s)")
    print(f"    the page said: {shown.splitlines()[0][:200]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000, help="versions of the many_versions model")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    args = parser.parse_args(argv)
    with HostileServer(version_count=args.versions) as server, tempfile.TemporaryDirectory() as folder:
        print(f"crafted TF Serving at {server.url}: {args.versions:,} versions; a gzip bomb inflating to "
              f"{server.bomb_bytes / (1 << 30):g} GiB")
        for case in args.cases:
            measure(case, server, Path(folder))


if __name__ == "__main__":
    main()
