"""Home and Models in headless Chromium against the crafted TF Serving of tests/hostile_server.py (the real app,
`streamlit run`): 10,000 versions draw with at most 20 version metadata requests, and a version of 2^63-1 is shown
whole while the server watch keeps asking without an error."""
from __future__ import annotations

import re

import pytest

from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, running_dashboard  # noqa: F401  (fixture)
from tests.dashboard.readable import shown
from tests.dashboard.server.test_hostile_answers import version_metadata_gets
from tests.hostile_server import INT64_MAX, MANY_VERSIONS, MAX_VERSION, HostileServer

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def hostile():
    with HostileServer(version_count=10_000) as server:
        yield server


@pytest.fixture(scope="module")
def dashboard_url(hostile, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    with running_dashboard(folder, TF_SERVING_URL=hostile.url, SERVESCOPE_MODEL=MANY_VERSIONS,
                           SERVESCOPE_DB=str(folder / "runs.db")) as url:
        yield url


@pytest.fixture
def tab(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1650})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def test_ten_thousand_versions_on_home_and_models(tab, dashboard_url, hostile):
    from playwright.sync_api import expect
    tab.goto(dashboard_url)
    newest = ", ".join(str(v) for v in range(9_991, 10_001))
    expect(tab.get_by_text(shown(f"has 10,000 available version(s): the newest 10: {newest} (the Models page"))
           ).to_be_visible()
    assert version_metadata_gets(hostile, MANY_VERSIONS) <= 20
    tab.goto(f"{dashboard_url}/models")
    expect(tab.get_by_text("Signatures of the newest 20 of 10,000 available versions; pick others below.")
           ).to_be_visible()
    expect(tab.get_by_role("heading", name="Version 10000 · stable, canary")).to_be_visible()
    expect(tab.get_by_role("heading", name="Version 9981", exact=True)).to_be_visible()
    expect(tab.get_by_text(re.compile(r"recorded change\(s\) .*; watching every 5 s"))).to_be_visible()
    assert version_metadata_gets(hostile, MANY_VERSIONS) <= 20


def test_the_largest_int64_version_is_shown_whole_and_the_watch_keeps_going(tab, dashboard_url):
    from playwright.sync_api import expect
    tab.goto(f"{dashboard_url}/models")
    field = tab.get_by_role("textbox", name="Model name")
    field.fill(MAX_VERSION)
    field.press("Enter")
    expect(tab.get_by_role("heading", name=f"Version {INT64_MAX} · stable, canary")).to_be_visible()
    expect(tab.get_by_text(re.compile(r"\(3 new change\(s\)\); watching every 5 s"))).to_be_visible()
    expect(tab.get_by_text(re.compile(r"\(nothing new\); watching every 5 s"))).to_be_visible(
        timeout=30_000)  # the watch asked again, and recorded the same versions without an error
    expect(tab.get_by_test_id("stException")).to_have_count(0)
    expect(tab.get_by_test_id("stAlertContentError")).to_have_count(0)
