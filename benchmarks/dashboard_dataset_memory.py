"""The dashboard's memory while a 4,000-image dataset runs, beside the same 4,000 images uploaded as a ZIP.

    python -m benchmarks.dashboard_dataset_memory                 # 4,000 images
    python -m benchmarks.dashboard_dataset_memory --images 1000

Made at run time in a temporary folder: a ZIP (stored, as benchmarks.dashboard_classify makes them) of `--images`
training photos cycled from ../shared/train under distinct names in their class folders, and a dataset of that ZIP
(Datasets.create, truth from the folders) in a run store and image store of its own. For each source a fresh
`streamlit run` (as `make run` starts it) with its own stores, and one headless Chromium session: Classify from the
dataset ("A dataset", press Classify), the ZIP uploaded and pressed (its images then kept in the image store after
the run, as by default), and the ZIP uploaded with "Don't keep images" ticked (what every upload did before
datasets). Printed per source: the dashboard's RSS before, its peak (sampled every 0.2 s, and the
kernel's high-water mark VmHWM) until the results are shown and, for the upload, until its images are kept; the RSS
then and 15 s after the session closed; the seconds from opening Classify to the results. Chromium's own memory is not counted.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.dashboard_classify import (dashboard, launch_browser, make_zip, model_server, upload_and_press,
                                          wait_for_results)
from benchmarks.dashboard_memory import PeakSampler, memory_kib, mib
from client.sources import expand_sources
from client.store import Datasets, open_image_store, open_store

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT.parent / "shared" / "train"
NAME = "memory-benchmark"
SOURCES = {"dataset": "from the dataset", "upload": "the ZIP uploaded, images kept",
           "upload-not-kept": "the ZIP uploaded, \"Don't keep images\" (as before datasets)"}


def make_dataset(archive: Path, database: Path, blobs: Path) -> tuple[int, float]:
    """The ZIP as dataset NAME; (images, seconds)."""
    store = open_store(database)
    try:
        started = time.perf_counter()
        build = Datasets(store, open_image_store(store, blobs, quota_bytes=None)).create(
            NAME, expand_sources([str(archive)]), truth="folders")
        return build.version.images, time.perf_counter() - started
    finally:
        store.close()


def press_on_dataset(page, dashboard_url: str) -> str:
    """Open Classify, choose the dataset, wait for its ground truth statement, press Classify; the new run's id."""
    from playwright.sync_api import expect

    from benchmarks.dashboard_classify import run_in
    page.goto(f"{dashboard_url}/classify")
    expect(page.get_by_role("heading", name="Classify", exact=True)).to_be_visible(timeout=120_000)
    page.get_by_text("A dataset", exact=True).click()
    statement = page.get_by_test_id("stCaptionContainer").filter(has_text="ground truth from dataset")
    expect(statement).to_be_visible(timeout=300_000)
    page.wait_for_timeout(1000)
    shown_before = run_in(page.url)
    page.get_by_role("button", name="Classify", exact=True).click()
    page.wait_for_url(lambda url: run_in(url) not in (None, shown_before), timeout=300_000)
    return run_in(page.url)


def press_on_upload(page, dashboard_url: str, archive: Path) -> str:
    """Open Classify, upload the ZIP, tick "Don't keep images", press Classify; the new run's id."""
    from playwright.sync_api import expect

    from benchmarks.dashboard_classify import run_in
    page.goto(f"{dashboard_url}/classify")
    expect(page.get_by_role("heading", name="Classify", exact=True)).to_be_visible(timeout=120_000)
    page.locator('input[type="file"]').first.set_input_files(str(archive))
    statement = page.get_by_test_id("stCaptionContainer").filter(has_text="ground truth from folder names")
    expect(statement).to_be_visible(timeout=300_000)
    page.get_by_text("Don't keep images", exact=True).click()
    page.wait_for_timeout(1000)
    shown_before = run_in(page.url)
    page.get_by_role("button", name="Classify", exact=True).click()
    page.wait_for_url(lambda url: run_in(url) not in (None, shown_before), timeout=300_000)
    return run_in(page.url)


def kept(database: Path, blobs: Path, run_id: str) -> int:
    store = open_store(database)
    try:
        return len(open_image_store(store, blobs, quota_bytes=None).run_images(run_id))
    finally:
        store.close()


def measure(source: str, server_url: str, archive: Path, database: Path, blobs: Path, images: int) -> None:
    from playwright.sync_api import sync_playwright
    os.environ["SERVESCOPE_BLOBS"] = str(blobs)   # the dashboard's image store (the dataset's, for a dataset run)
    with dashboard(server_url, database) as (dashboard_url, process):
        pid = process.pid
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            context = browser.new_context(viewport={"width": 1400, "height": 1200})
            page = context.new_page()
            page.set_default_timeout(900_000)
            page.goto(dashboard_url)
            time.sleep(2)
            before = memory_kib(pid)["VmRSS"]
            started = time.perf_counter()
            with PeakSampler(pid) as sampler:
                if source == "dataset":
                    run_id = press_on_dataset(page, dashboard_url)
                elif source == "upload":
                    run_id = upload_and_press(page, dashboard_url, archive)[1]
                else:
                    run_id = press_on_upload(page, dashboard_url, archive)
                wait_for_results(page, run_id)
                elapsed = time.perf_counter() - started
                kept_images = None
                if source == "upload":   # its images are kept after the run: memory until they all are
                    deadline = time.monotonic() + 600
                    while (kept_images := kept(database, blobs, run_id)) < images and time.monotonic() < deadline:
                        time.sleep(1)
                shown = memory_kib(pid)
                context.close()
                time.sleep(15)
            after = memory_kib(pid)["VmRSS"]
            browser.close()
    extra = f"; {kept_images:,} of {images:,} images kept in the image store" if kept_images is not None else ""
    print(f"{SOURCES[source]}: RSS before {mib(before)}, peak {mib(max(sampler.peak, shown['VmRSS']))} (VmHWM "
          f"{mib(shown['VmHWM'])}), at the end {mib(shown['VmRSS'])}, 15 s after the session closed {mib(after)}; "
          f"{elapsed:.0f} s from opening Classify to the results{extra}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--sources", nargs="+", choices=list(SOURCES), default=list(SOURCES))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="servescope-dataset-memory-") as tmp:
        folder = Path(tmp)
        archive = make_zip(folder, args.images, photos_from=TRAIN, prefix="train")
        images, seconds = make_dataset(archive, folder / "dataset.db", folder / "dataset-blobs")
        print(f"{args.images:,}-image ZIP of {archive.stat().st_size / 1e6:.1f} MB; as dataset '{NAME}': {images:,} "
              f"images stored in {seconds:.1f} s", flush=True)
        with model_server() as server_url:
            for source in args.sources:
                stores = ("dataset.db", "dataset-blobs") if source == "dataset" else (f"{source}.db", f"{source}-blobs")
                measure(source, server_url, archive, folder / stores[0], folder / stores[1], images)


if __name__ == "__main__":
    main()
