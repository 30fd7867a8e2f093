"""Classify in headless Chromium on the real embedded server: a labelled ZIP evaluated with no other step and a
confusion-matrix cell opened; a 500-image run that goes on while the analyst is on another page, survives a
reload and opens by its `?run=` link in a second browser context."""
from __future__ import annotations

import re
import time
import zipfile

import pytest
import requests
from werkzeug.wrappers import Request, Response

from dashboard.evaluate.view import MISTAKES_SHOWN
from client.store.database import open_store
from tests.dashboard.browser.test_browser import BROWSER_TESTS, README_SCREENSHOT, UPDATE_SCREENSHOT, browser, page, running_dashboard  # noqa: F401
from tests.dashboard.readable import shown
from tests.support import wait_until

pytestmark = BROWSER_TESTS
PREDICT_DELAY_S = 0.4   # per predict request: keeps a 500-image run going for several seconds


@pytest.fixture(scope="module")
def slow_link(pets_server_url, fake_servers_module):
    """A forwarding proxy in front of the real embedded server that holds each predict request PREDICT_DELAY_S
    (a slow network): the answers are the real server's."""
    def forward(request: Request) -> Response:
        if request.method == "POST":
            time.sleep(PREDICT_DELAY_S)
        answer = requests.request(request.method, pets_server_url + request.full_path.rstrip("?"),
                                  data=request.get_data(), headers={"Content-Type": "application/json"}, timeout=60)
        return Response(answer.content, status=answer.status_code, content_type="application/json")
    return fake_servers_module(forward).url


@pytest.fixture(scope="module")
def fake_servers_module():
    from tests.support import fake_servers
    with fake_servers() as start:
        yield start


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return tmp_path_factory.mktemp("store") / "runs.db"


@pytest.fixture(scope="module")
def dashboard_url(slow_link, database, tmp_path_factory):
    with running_dashboard(tmp_path_factory.mktemp("streamlit"), TF_SERVING_URL=slow_link, SERVESCOPE_MODEL="pets",
                           SERVESCOPE_DB=str(database)) as url:
        yield url


def photos(shared_images) -> list:
    return sorted(p for p in shared_images.glob("*/*") if p.is_file() and p.parent.name in ("cat", "dog", "other"))


def labelled_zip(path, shared_images, count: int | None = None):
    chosen = photos(shared_images)
    count = count or len(chosen)
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(count):
            photo = chosen[index % len(chosen)]
            archive.writestr(f"{photo.parent.name}/{index:04d}-{photo.name}", photo.read_bytes())
    return path


def start_run(page, dashboard_url: str, archive) -> str:
    from playwright.sync_api import expect
    page.goto(f"{dashboard_url}/classify")
    expect(page.get_by_role("heading", name="Classify", exact=True)).to_be_visible()
    page.locator('input[type="file"]').first.set_input_files(str(archive))
    expect(page.get_by_text("ground truth from folder names", exact=False)).to_be_visible()
    shown_before = run_in(page.url)   # the page may be showing the newest stored run
    page.get_by_role("button", name="Classify", exact=True).click()
    page.wait_for_url(lambda url: run_in(url) not in (None, shown_before))
    return run_in(page.url)


def run_in(url: str) -> str | None:
    found = re.search(r"[?&]run=([0-9a-f]+)", url)
    return found.group(1) if found else None


def test_a_labelled_zip_shows_accuracy_and_a_confusion_cell_lists_its_images(page, dashboard_url, database,
                                                                              shared_images, tmp_path):
    from playwright.sync_api import expect
    run_id = start_run(page, dashboard_url, labelled_zip(tmp_path / "labelled.zip", shared_images))
    expect(page.get_by_text(shown(f"Run {run_id}: complete"))).to_be_visible(timeout=120_000)
    rows = open_store(database).run_rows(run_id)
    judged = rows[rows["top_class"].notna() & rows["ground_truth"].notna()]
    correct = int((judged["top_class"] == judged["ground_truth"]).sum())
    accuracy = page.get_by_test_id("stMetric").filter(has_text="Accuracy").first
    expect(accuracy).to_contain_text(f"{correct / len(judged):.1%}")
    expect(accuracy).to_contain_text(f"{correct}/{len(judged)}")
    # The thumbnails follow the rows (the run never waits for them); once stored, the page redraws with them:
    # one tile per mistake in the grid (a click on one opens the image: test_image_detail.py).
    wait_until(lambda: open_store(database).thumbnail_count(run_id) == len(rows), timeout=60,
               what=f"the thumbnails of run {run_id}")
    mistakes = len(judged) - correct
    page.get_by_text(f"Mistakes ({mistakes})", exact=True).click()
    tiles = page.get_by_test_id("servescope-tile")
    expect(tiles).to_have_count(min(mistakes, MISTAKES_SHOWN))
    expect(tiles.filter(has_text="predicted")).to_have_count(min(mistakes, MISTAKES_SHOWN))
    expect(tiles.locator("img")).to_have_count(min(mistakes, MISTAKES_SHOWN))
    expect(page.get_by_text(re.compile(r"^Thumbnails: \d+ of \d+ made"))).to_have_count(0)
    # One cell of the heatmap (an SVG mark Vega labels with its fields): true dog, predicted dog.
    cell = page.locator('[role="graphics-symbol"][aria-label*="true: dog"][aria-label*="predicted: dog"]').first
    cell.click()
    count = int(((judged["ground_truth"] == "dog") & (judged["top_class"] == "dog")).sum())
    expect(page.get_by_text(f"True dog, predicted dog: {count} image(s)")).to_be_visible()
    # Its images are listed in a table of their own, thumbnails first.
    listing = page.get_by_text(f"True dog, predicted dog: {count} image(s)").locator(
        "xpath=ancestor::div[@data-testid='stElementContainer']/following-sibling::div[1]")
    expect(listing.get_by_test_id("stDataFrame")).to_be_visible()
    page.wait_for_timeout(1500)  # let Vega finish drawing before the screenshot
    screenshot = README_SCREENSHOT if UPDATE_SCREENSHOT else tmp_path / "classify.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000


def test_a_run_goes_on_across_pages_survives_a_reload_and_opens_by_its_link(browser, page, dashboard_url,  # noqa: F811
                                                                           database, shared_images, tmp_path):
    from playwright.sync_api import expect
    run_id = start_run(page, dashboard_url, labelled_zip(tmp_path / "five-hundred.zip", shared_images, 500))
    progress = re.compile(r"\d+ / 500 images")
    expect(page.get_by_text(progress).first).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("link", name="Models", exact=True).click()
    expect(sidebar.get_by_text("Runs in progress")).to_be_visible()
    expect(sidebar.get_by_text(re.compile(rf"Run {run_id}: \d+ / 500 images"))).to_be_visible()
    sidebar.get_by_role("link", name="Classify", exact=True).click()
    expect(page.get_by_text(f"Run {run_id}", exact=True)).to_be_visible()
    assert open_store(database).get_run(run_id).status == "running"   # still going after two page switches
    done = page.get_by_text(shown(f"Run {run_id}: complete: 500 of 500 image(s) classified."))
    expect(done).to_be_visible(timeout=180_000)
    page.reload()
    expect(done).to_be_visible()
    sidebar.get_by_role("link", name="History", exact=True).click()
    stored = len(open_store(database).list_runs())
    expect(page.get_by_text(f"{stored} of {stored} stored run(s) shown in", exact=False)).to_be_visible()
    # The link, in a second browser context (another analyst's browser): the same stored run.
    other = browser.new_context(viewport={"width": 1400, "height": 1200})
    try:
        second = other.new_page()
        second.goto(f"{dashboard_url}/classify?run={run_id}")
        expect(second.get_by_text(shown(f"Run {run_id}: complete: 500 of 500 image(s) classified."))).to_be_visible()
        expect(second.get_by_test_id("stMetric").filter(has_text="Accuracy").first).to_be_visible()
    finally:
        other.close()
