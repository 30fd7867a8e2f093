"""The real app in headless Chromium: the home page, the model versions, and file names that never become links or
images the browser fetches. Classify and Compare in the browser: test_browser_classify.py, test_browser_compare.py."""
from __future__ import annotations

import contextlib
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Iterator

import pytest
import requests
from werkzeug.wrappers import Response

from launcher.supervise import dashboard_command
from tests.dashboard.readable import shown
from tests.support import ROOT, free_port, wait_until

# One browser test at a time across pytest-xdist's workers (tests/conftest.py): two Chromiums driven at once on
# the two cores starve each other's expect() timeouts.
BROWSER_TESTS = [pytest.mark.slow, pytest.mark.browser, pytest.mark.usefixtures("one_browser_test_at_a_time")]
pytestmark = BROWSER_TESTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# The README's screenshot is refreshed only on request, so a test run never modifies tracked files.
README_SCREENSHOT = ROOT / "docs" / "screenshot.png"
UPDATE_SCREENSHOT = os.environ.get("SERVESCOPE_UPDATE_SCREENSHOT") == "1"


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/_stcore/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def running_dashboard(folder: Path, **environment: str) -> Iterator[str]:
    """The dashboard started the way `make run` starts it (same flags) on a free port with these settings, its
    log in `folder`; yields its URL once /_stcore/health answers, and stops it after."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "streamlit.log"
    environment.setdefault("SERVESCOPE_BLOBS", str(folder / "blobs"))   # the test's own image store
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(dashboard_command(port), cwd=ROOT, env=dict(os.environ, **environment), stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            def ready() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited {proc.returncode}: {log_path.read_text()[-2000:]}")
                return healthy(url)
            wait_until(ready, timeout=90, what=f"streamlit health at {url}")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def dashboard_url(pets_server_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("streamlit")
    with running_dashboard(folder, TF_SERVING_URL=pets_server_url, SERVESCOPE_MODEL="pets",
                           SERVESCOPE_DB=str(folder / "runs.db")) as url:  # the test's own run store
        yield url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright
    # expect() has its own 5 s default; the machine is shared, so allow for a slow model server.
    expect.set_options(timeout=60_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    # Tall enough that the results table and the charts fit in one screenshot (Streamlit scrolls internally).
    context = browser.new_context(viewport={"width": 1400, "height": 1650})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def test_models_page_lists_both_versions(page, dashboard_url):
    from playwright.sync_api import expect
    page.goto(f"{dashboard_url}/models")
    expect(page.get_by_role("heading", name="Version 1 · stable")).to_be_visible()
    expect(page.get_by_role("heading", name="Version 2 · canary")).to_be_visible()
    expect(page.get_by_text("[-1, 224, 224, 3]")).to_be_visible()
    expect(page.get_by_text("[-1, 128, 128, 3]")).to_be_visible()


def test_home_page_reports_the_connection(page, dashboard_url, pets_server_url):
    from playwright.sync_api import expect
    page.goto(dashboard_url)
    expect(page.get_by_text(shown(f"Connected to {pets_server_url}: model 'pets' has 2 available version(s): 1, 2."))
           ).to_be_visible()
    # Started like `make run` (client.toolbarMode=viewer): no developer "Deploy" button for analysts, and
    # Streamlit's own menu (st.navigation, with sections).
    expect(page.get_by_text("Deploy", exact=True)).to_have_count(0)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Analyse", exact=True)).to_be_visible()
    expect(sidebar.get_by_role("link", name="History", exact=True)).to_be_visible()


def test_a_file_name_with_markdown_never_makes_the_browser_fetch_its_url(page, dashboard_url, fake_server, tmp_path):
    """Issue 12.7: a ZIP member named like a Markdown image is shown as text; its URL is never requested."""
    from playwright.sync_api import expect
    beacon = fake_server(lambda request: Response(b"", status=204))
    name = f"x![b]({beacon.url}/beacon.png).jpg"
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(name, b"not an image")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{dashboard_url}/classify")
    page.locator('input[type="file"]').set_input_files([str(archive)])
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(page.get_by_text(shown(f"batch.zip/{name}: ")).first).to_be_visible()
    page.wait_for_timeout(1000)  # give an injected <img> the time it would need to load
    assert beacon.calls == [] and not [url for url in requested if url.startswith(beacon.url)]
