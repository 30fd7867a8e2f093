"""How tall the analyst's pages are in the browser at 1440 × 900: Classify with ~100 images, one image, Compare, History.

    python -m benchmarks.page_heights                       # starts the embedded server and the dashboard
    python -m benchmarks.page_heights --images 102
    python -m benchmarks.page_heights --root /tmp/old-tree  # the same journey on another checkout (a "before")

Headless Chromium (Playwright) at a 1440 × 900 viewport, on `streamlit run` as `make run` starts it with its own run
store and the embedded server's pets model. The journey: a ZIP of `--images` photos cycled from ../shared/images in
class folders classified on Classify (its results drawn, every thumbnail stored and shown, sections as they open by
default), then one of its images in the detail view (a dialog: opened from the first mistake's tile, its occlusion
map drawn); one photo classified alone; the same ZIP compared on Compare (label stable against canary, its verdict
and evidence drawn); History. Each page's height is the scroll height of its content (the tallest of the page's
scrolling containers) once nothing on it has changed for PAUSE_S seconds.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import requests

from benchmarks.dashboard_classify import (PHOTOS, ROOT, free_port, launch_browser, make_zip, model_server, run_in,
                                           wait_for)

VIEWPORT = {"width": 1440, "height": 900}
PAUSE_S = 2.0
CLASSIFY_GOAL_PX = 4000
_HEIGHT = """() => Math.max(...[document.documentElement, document.body,
    ...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"],' +
                                 ' [data-testid="stMainBlockContainer"]')].map((el) => el.scrollHeight))"""


@contextlib.contextmanager
def dashboard(server_url: str, database: Path, root: Path) -> Iterator[str]:
    """`streamlit run` of `root`'s dashboard as `make run` starts it, on a free port, with its own run store."""
    from launcher.supervise import DASHBOARD_ENTRY, dashboard_command
    port = free_port()
    command = [str(root / DASHBOARD_ENTRY.name) if part == str(DASHBOARD_ENTRY) else part
               for part in dashboard_command(port)]
    env = dict(os.environ, TF_SERVING_URL=server_url, SERVESCOPE_MODEL="pets", SERVESCOPE_DB=str(database),
               PYTHONPATH=str(root))
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"streamlit exited with {proc.returncode}")
        try:
            return requests.get(f"{url}/_stcore/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False
    try:
        wait_for(ready, f"the dashboard at {url}", timeout=90)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def settled_height(page, timeout_s: float = 300.0) -> int:
    """The page's height once it has stayed the same for PAUSE_S seconds (charts and tables drawn)."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        height = int(page.evaluate(_HEIGHT))
        if height != last:
            last, since = height, time.monotonic()
        elif time.monotonic() - since >= PAUSE_S:
            return height
        page.wait_for_timeout(250)
    raise SystemExit("the page never settled")


def classify(page, url: str, archive: Path, database: Path) -> int:
    from playwright.sync_api import expect

    from client.store.database import open_store
    page.goto(f"{url}/classify")
    expect(page.get_by_role("heading", name="Classify", exact=True)).to_be_visible(timeout=120_000)
    shown_before = run_in(page.url)
    page.locator('input[type="file"]').first.set_input_files(str(archive))
    button = page.get_by_role("button", name="Classify", exact=True)
    expect(button).to_be_enabled(timeout=120_000)
    page.wait_for_timeout(1000)
    button.click()
    page.wait_for_url(lambda address: run_in(address) not in (None, shown_before), timeout=300_000)
    run_id = run_in(page.url)
    store = open_store(database)
    wait_for(lambda: store.get_run(run_id) is not None and store.get_run(run_id).finished, f"run {run_id}", 900)
    total = store.get_run(run_id).done
    wait_for(lambda: store.thumbnail_count(run_id) >= total - store.get_run(run_id).errors,
             f"the thumbnails of run {run_id}", 300)
    expect(page.get_by_text(re.compile(r"^Thumbnails: \d+ of \d+ made"))).to_have_count(0, timeout=120_000)
    expect(page.get_by_text(re.compile(f"Run {run_id}:\u2060? complete"))).to_be_visible(timeout=120_000)
    return settled_height(page)


def detail_dialog(page) -> int | None:
    """The image detail view's height, opened from the first mistake's tile with its occlusion map drawn; None when
    the dashboard has no such view (an older checkout)."""
    from playwright.sync_api import expect
    page.get_by_text(re.compile(r"^Mistakes \(\d+\)$")).click()
    tiles = page.get_by_test_id("servescope-tile")
    try:
        expect(tiles.first).to_be_visible(timeout=10_000)
    except AssertionError:
        return None
    tiles.first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Where did the model look?").click()
    expect(dialog.get_by_text(re.compile(r"^1 request, \d+ images"))).to_be_visible(timeout=300_000)
    settled_height(page)
    height = int(dialog.evaluate("(el) => el.scrollHeight"))
    page.keyboard.press("Escape")
    return height


def compare(page, url: str, archive: Path) -> int:
    from playwright.sync_api import expect
    page.goto(f"{url}/compare")
    expect(page.get_by_role("heading", name="Compare versions", exact=True)).to_be_visible(timeout=120_000)
    page.locator('input[type="file"]').first.set_input_files(str(archive))
    button = page.get_by_role("button", name="Compare", exact=True)
    expect(button).to_be_enabled(timeout=120_000)
    page.wait_for_timeout(1000)
    button.click()
    expect(page.get_by_text("Fixes / regressions", exact=True)).to_be_visible(timeout=900_000)
    expect(page.get_by_test_id("stProgress")).to_have_count(0, timeout=300_000)
    return settled_height(page)


def probe_figures(database: Path) -> str:
    """The newest comparison's cost row as the page shows it (the latency probe) beside the concurrent run's own
    request latency, per side."""
    import numpy as np

    from dashboard.runs.latency_probe import LatencyProbe
    from client.store.database import open_store
    store = open_store(database)
    newest = next(s.run for s in store.list_runs() if s.run.kind == "compare")
    [comparison] = store.comparisons_of_run(newest.id)
    probe = LatencyProbe.from_json(comparison.latency_probe)
    if probe is None or not probe.sides:
        return "no latency probe stored" + (f" ({probe.error})" if probe is not None else "")
    parts = []
    for letter, run_id in zip("AB", (comparison.baseline_run_id, *comparison.other_run_ids)):
        run, side = store.get_run(run_id), probe.side(run_id)
        during = float(np.median(store.run_rows(run_id)["latency_ms"].dropna()))
        parts.append(f"{letter} (v{run.version}) p50 {side.percentile(50):.1f} ms alone, {side.images_per_s:.1f} "
                     f"images/s one at a time ({side.requests} requests); median batch request {during:.0f} ms "
                     "during the run, both sides at once")
    return "; ".join(parts)


def history(page, url: str) -> int:
    from playwright.sync_api import expect
    page.goto(f"{url}/history")
    expect(page.get_by_role("heading", name="History", exact=True)).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=120_000)
    return settled_height(page)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=102, help="photos in the Classify and Compare ZIP")
    parser.add_argument("--root", type=Path, default=None, help="start the dashboard from this checkout instead")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright
    photos = sorted(PHOTOS.glob("dog/*"))
    if not photos:
        raise SystemExit(f"no photos in {PHOTOS}")
    with tempfile.TemporaryDirectory(prefix="servescope-heights-") as scratch:
        folder = Path(scratch)
        archive = make_zip(folder, args.images)
        database = folder / "runs.db"
        with model_server() as server_url, dashboard(server_url, database, args.root or ROOT) as url, \
                sync_playwright() as playwright:
            browser = launch_browser(playwright)
            page = browser.new_context(viewport=VIEWPORT).new_page()
            print(f"{VIEWPORT['width']} × {VIEWPORT['height']} viewport; dashboard from "
                  f"{args.root or 'this checkout'}; heights in px", flush=True)
            height = classify(page, url, archive, database)
            verdict = "under" if height < CLASSIFY_GOAL_PX else "NOT under"
            print(f"Classify, {args.images} images, sections as opened by default: {height:,} px ({verdict} the "
                  f"{CLASSIFY_GOAL_PX:,} px goal)", flush=True)
            dialog = detail_dialog(page)
            print("One image in the detail view (a dialog, its occlusion map drawn): "
                  + ("no such view here" if dialog is None else f"{dialog:,} px"), flush=True)
            print(f"Classify, a run of one image: {classify(page, url, photos[0], database):,} px", flush=True)
            print(f"Compare, {args.images} images, stable vs canary: {compare(page, url, archive):,} px", flush=True)
            if args.root is None:
                print(f"Compare's cost row: {probe_figures(database)}", flush=True)
            print(f"History (two classify runs and one comparison): {history(page, url):,} px", flush=True)
            browser.close()


if __name__ == "__main__":
    main()
