"""The dashboard's overhead over the client: one 1,000-image ZIP classified in the browser and by the CLI.

    python -m benchmarks.dashboard_classify                 # starts the embedded server and the dashboard
    python -m benchmarks.dashboard_classify --images 500 --repeats 2

The ZIP is made at run time in a temporary folder by cycling the photos in ../shared/images under distinct names
(cat/0001-<photo>.jpg, ...), so the dashboard also finds the ground truth in the folder names. Headless Chromium
(Playwright) opens the Classify page of `streamlit run`, uploads the ZIP, presses Classify 1 s after the ground
truth statement appears, and the time runs from the press until the finished run's evaluation and results are on
screen (the Accuracy metric and the download button, checked in the page every 50 ms); it also prints when every
thumbnail is stored and shown (they follow the rows, after the run, polled every 0.2 s). The CLI's time is
`python -m client classify ZIP --label stable --out FILE.csv` (process start included, as an analyst would run it).
Prints both, and the ratio (goal: at most 1.3). Before the timed runs, one untimed 32-image run on each side (the
model's first requests; the browser's first drawn results).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Iterator

import requests

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "images"
CHROMIUM = "/usr/bin/chromium"
PRESS_AFTER_MS = 1000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(ready, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def make_zip(folder: Path, count: int, *, photos_from: Path = PHOTOS, prefix: str = "photos") -> Path:
    """`count` photos cycled from `photos_from` (../shared/images), each under a distinct name in its class folder
    (cat/0001-<photo>.jpg …), stored uncompressed as <prefix>-<count>.zip."""
    photos = sorted(p for p in photos_from.glob("*/*") if p.is_file() and p.parent.name in ("cat", "dog", "other"))
    if not photos:
        raise SystemExit(f"no photos in {photos_from}")
    path = folder / f"{prefix}-{count}.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for index in range(count):
            photo = photos[index % len(photos)]
            archive.writestr(f"{photo.parent.name}/{index:04d}-{photo.name}", photo.read_bytes())
    return path


@contextlib.contextmanager
def model_server() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "serving", f"--rest_api_port={port}", "--port=0",
                             f"--model_config_file={ROOT / 'pets' / 'models.config'}"], cwd=ROOT,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def ready() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"the model server exited with {proc.returncode}")
        try:
            status = requests.get(f"{url}/v1/models/pets", timeout=2).json()
        except (requests.RequestException, ValueError):
            return False
        return sum(v.get("state") == "AVAILABLE" for v in status.get("model_version_status", [])) >= 2
    try:
        wait_for(ready, f"the model server at {url}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def dashboard(server_url: str, database: Path, options: tuple[str, ...] = (),
              model: str = "pets") -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run` as `make run` starts it (plus `options`), on a free port, for `model` at `server_url`,
    with its own run store and image store (`<database>-blobs` beside it, unless SERVESCOPE_BLOBS says)."""
    from launcher.supervise import dashboard_command
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, TF_SERVING_URL=server_url, SERVESCOPE_MODEL=model, SERVESCOPE_DB=str(database))
    env.setdefault("SERVESCOPE_BLOBS", str(database.with_name(f"{database.stem}-blobs")))
    proc = subprocess.Popen([*dashboard_command(port), *options], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def ready() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"streamlit exited with {proc.returncode}")
        try:
            return requests.get(f"{url}/_stcore/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False
    try:
        wait_for(ready, f"the dashboard at {url}", timeout=90)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def upload_and_press(page, dashboard_url: str, archive: Path) -> tuple[float, str]:
    """Open Classify, upload the ZIP, wait for the ground truth statement, press Classify; the press time and
    the new run's id."""
    from playwright.sync_api import expect
    page.goto(f"{dashboard_url}/classify")
    expect(page.get_by_role("heading", name="Classify", exact=True)).to_be_visible(timeout=120_000)
    page.locator('input[type="file"]').first.set_input_files(str(archive))
    # The ground truth statement (a caption; a stored run shown below may state its own as text).
    statement = page.get_by_test_id("stCaptionContainer").filter(has_text="ground truth from folder names")
    expect(statement).to_be_visible(timeout=300_000)
    button = page.get_by_role("button", name="Classify", exact=True)
    expect(button).to_be_enabled(timeout=60_000)
    # As an analyst reads the statement before pressing: the browser finishes drawing the page first (the newest
    # stored run, shown below the form, kept its renderer busy for up to ~0.3 s into the timed run otherwise).
    page.wait_for_timeout(PRESS_AFTER_MS)
    shown_before = run_in(page.url)   # a new session shows the newest stored run
    started = time.perf_counter()
    button.click()
    page.wait_for_url(lambda url: run_in(url) not in (None, shown_before), timeout=300_000)
    return started, run_in(page.url)


def run_in(url: str) -> str | None:
    found = re.search(r"[?&]run=([0-9a-f]+)", url)
    return found.group(1) if found else None


# Checked in the page every 50 ms (page.wait_for_function), so the time is within 50 ms of the results being drawn:
# Playwright's expect() retries every 0.5 s once its first quick tries fail, which added up to 0.5 s to the
# dashboard's figure (and its text search over the whole page, redone each try, took CPU the model server needs).
# expect() then confirms each one with Playwright's own visibility rules.
_RESULTS_SHOWN = """([runId, stage]) => {
    const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
    const text = (el) => el.textContent.replace(/\u2060/g, "");
    const final = [...document.querySelectorAll('[data-testid="stAlert"]')]
        .some((el) => shown(el) && text(el).includes(`Run ${runId}: complete`));
    const metric = [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some((el) => shown(el) && text(el).includes("Accuracy"));
    if (stage === "metric") return final && metric;
    return [...document.querySelectorAll('[data-testid="stDownloadButton"] button')]
        .some((el) => shown(el) && text(el).includes("Download results (CSV)"));
}"""


def wait_for_results(page, run_id: str, timeout_ms: float = 900_000) -> tuple[float, float]:
    """Wait for the run's final status and Accuracy metric, then for the download button below the results table;
    returns when each appeared (time.time())."""
    from playwright.sync_api import expect
    page.wait_for_function(_RESULTS_SHOWN, arg=[run_id, "metric"], polling=50, timeout=timeout_ms)
    metric_at = time.time()
    page.wait_for_function(_RESULTS_SHOWN, arg=[run_id, "download"], polling=50, timeout=timeout_ms)
    shown_at = time.time()
    # dashboard.plain puts an invisible word joiner after each ':' of a Markdown text.
    expect(page.get_by_text(re.compile(rf"Run {run_id}:\u2060? complete"))).to_be_visible(timeout=timeout_ms)
    expect(page.get_by_test_id("stMetric").filter(has_text="Accuracy").first).to_be_visible(timeout=timeout_ms)
    expect(page.get_by_role("button", name="Download results (CSV)")).to_be_visible(timeout=timeout_ms)
    return metric_at, shown_at


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_dashboard(dashboard_url: str, archive: Path, database: Path, pid: int) -> float:
    """Seconds from pressing Classify to the results; prints where they went (run start, the run itself in its
    worker, and drawing the finished run)."""
    from playwright.sync_api import sync_playwright

    from client.store.database import open_store
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
        page.set_default_timeout(600_000)
        started, run_id = upload_and_press(page, dashboard_url, archive)
        pressed_at, cpu_before = time.time() - (time.perf_counter() - started), cpu_seconds(pid)
        metric_at, shown_at = wait_for_results(page, run_id)
        elapsed = shown_at - pressed_at
        cpu_used = cpu_seconds(pid) - cpu_before
        store = open_store(database)
        run = store.get_run(run_id)
        # Rows never wait for thumbnails (dashboard/thumbnail_pool.py): they are stored after the run, and the
        # page redraws once they all are (its "Thumbnails: N of M made…" caption gone).
        wait_for(lambda: store.thumbnail_count(run_id) == run.total
                 and page.get_by_text("Thumbnails:").count() == 0, "every thumbnail stored and shown")
        thumbnails_after = time.perf_counter() - started
        store.close()
        browser.close()
    created, finished = run.created_at.timestamp(), run.finished_at.timestamp()
    print(f"    press -> run stored {created - pressed_at:.1f} s; run in its worker {finished - created:.1f} s "
          f"(classifying {run.elapsed_s:.1f} s); finished -> Accuracy shown {metric_at - finished:.1f} s -> "
          f"table and downloads shown {shown_at - metric_at:.1f} s; the dashboard "
          f"process used {cpu_used:.1f} s of CPU meanwhile; every thumbnail stored and shown "
          f"{thumbnails_after:.1f} s after the press", flush=True)
    return elapsed


def time_cli(server_url: str, archive: Path, out: Path) -> float:
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "client", "classify", str(archive), "--url", server_url, "--model", "pets",
                    "--label", "stable", "--truth", "folders", "--out", str(out), "--no-progress"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, interleaved; medians printed")
    parser.add_argument("--streamlit-option", action="append", default=[], metavar="--section.name=value",
                        help="added to `streamlit run`, e.g. --server.fileWatcherType=none")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="servescope-bench-") as tmp:
        folder = Path(tmp)
        archive = make_zip(folder, args.images)
        print(f"{args.images} images, {archive.stat().st_size / 1e6:.1f} MB ZIP; load average "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
        options = tuple(args.streamlit_option)
        with model_server() as server_url, dashboard(server_url, folder / "runs.db", options) as (dashboard_url,
                                                                                                 process):
            # Untimed, one small run each: the model's first requests, and the dashboard's first drawn results (a
            # browser with nothing drawn yet fetches and compiles Streamlit's chart and table code then; later
            # sessions open on the newest stored run and have it before the press). Printed, not counted.
            warm = make_zip(folder, 32)
            time_cli(server_url, warm, folder / "warm.csv")
            print(f"  warm-up (32 images, not counted): dashboard "
                  f"{time_dashboard(dashboard_url, warm, folder / 'runs.db', process.pid):.1f} s", flush=True)
            cli_times, dashboard_times = [], []
            for repeat in range(args.repeats):
                cli_times.append(time_cli(server_url, archive, folder / "cli.csv"))
                dashboard_times.append(time_dashboard(dashboard_url, archive, folder / "runs.db", process.pid))
                print(f"  repeat {repeat + 1}: CLI {cli_times[-1]:.1f} s, dashboard {dashboard_times[-1]:.1f} s",
                      flush=True)
    cli, board = statistics.median(cli_times), statistics.median(dashboard_times)
    print(f"CLI (python -m client classify, label stable): {cli:.1f} s")
    print(f"dashboard (press Classify -> evaluation and results shown): {board:.1f} s")
    print(f"ratio dashboard / CLI: {board / cli:.2f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
