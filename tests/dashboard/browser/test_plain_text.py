"""In a real browser, text that went through dashboard.plain makes no link, image or HTML element, and reads as
the original characters (Streamlit's Markdown autolinks bare URLs even when their punctuation is escaped)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.dashboard.apps.plain_text_app import HOSTILE
from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, healthy, page  # noqa: F401  (fixtures)
from tests.support import ROOT, free_port, wait_until

pytestmark = BROWSER_TESTS

APP = ROOT / "tests" / "dashboard" / "apps" / "plain_text_app.py"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("plain") / "streamlit.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless=true",
                                 "--server.address=127.0.0.1", f"--server.port={port}",
                                 "--browser.gatherUsageStats=false"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: healthy(url), timeout=90, what=f"streamlit health at {url}")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_escaped_texts_make_no_links_images_or_html(page, app_url):  # noqa: F811
    from playwright.sync_api import expect
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if ":9/" in request.url else None)
    page.goto(app_url)
    main = page.locator("[data-testid='stMain']")
    expect(main.locator("[data-testid='stAlert']")).to_have_count(2 * len(HOSTILE))
    assert main.locator("a").count() == 0
    assert main.locator("img").count() == 0
    assert main.locator("strong, .katex").count() == 0
    shown = main.inner_text().replace("\u2060", "")
    for text in HOSTILE:
        assert text in shown
    assert fetched == []
