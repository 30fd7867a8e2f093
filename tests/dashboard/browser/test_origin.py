"""In Chromium, against the dashboard started as `make run` starts it (issue 21): a page under a host name that
resolves to the dashboard (DNS rebinding: Chromium maps evil.test to 127.0.0.1) gets the refusal, not the app, and
its scripts can neither read the health endpoint nor open the websocket; the loopback names draw the app. Opening
Home and every page makes the browser fetch nothing from any other host (no page icon from a font CDN)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from dashboard.ui.allowed_hosts import REFUSAL
from tests.dashboard.browser.test_browser import BROWSER_TESTS, CHROMIUM, CHROMIUM_ARGS, running_dashboard
from tests.support import fake_model_handler, fake_servers

pytestmark = BROWSER_TESTS

PAGES = {"Classify": "Classify", "Compare": "Compare versions", "Models": "Models", "History": "History"}

# What a rebound page's script would try: read an endpoint, open Streamlit's websocket.
PROBE = """async () => {
    const health = await fetch("/_stcore/health").then((r) => r.status, () => "failed");
    const socket = await new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/_stcore/stream`, ["streamlit"]);
        ws.onopen = () => { ws.close(); resolve("open"); };
        ws.onerror = () => resolve("refused");
    });
    return [health, socket];
}"""


@pytest.fixture(scope="module")
def dashboard_port(tmp_path_factory):
    folder = tmp_path_factory.mktemp("origin")
    with fake_servers() as start:
        server = start(fake_model_handler())
        with running_dashboard(folder, TF_SERVING_URL=server.url, SERVESCOPE_MODEL="pets",
                               SERVESCOPE_DB=str(folder / "runs.db")) as url:
            yield int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def rebinding_browser():
    """Chromium that resolves evil.test to 127.0.0.1, as a rebinding attacker's DNS would."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=60_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.test 127.0.0.1"])
        yield browser
        browser.close()


@pytest.fixture
def context(rebinding_browser):
    context = rebinding_browser.new_context(viewport={"width": 1400, "height": 1200})
    context.set_default_timeout(60_000)
    yield context
    context.close()


def test_a_rebound_host_name_gets_the_refusal_and_loopback_gets_the_app(context, dashboard_port):
    from playwright.sync_api import expect
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    response = page.goto(f"http://evil.test:{dashboard_port}/")
    assert response.status == 403
    assert page.locator("body").inner_text().strip() == REFUSAL.decode().strip()
    assert page.get_by_test_id("stApp").count() == 0
    assert page.evaluate(PROBE) == [403, "refused"]
    assert sockets == [f"ws://evil.test:{dashboard_port}/_stcore/stream"]  # the probe's own, refused

    page.goto(f"http://localhost:{dashboard_port}/")
    expect(page.get_by_role("heading", name="ServeScope", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text("Analyse", exact=True)).to_be_visible()
    assert page.evaluate(PROBE) == [200, "open"]


def test_the_pages_make_the_browser_fetch_nothing_from_another_host(context, dashboard_port):
    from playwright.sync_api import expect
    own = f"127.0.0.1:{dashboard_port}"
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.on("websocket", lambda socket: requested.append(socket.url))
    page.goto(f"http://{own}/")
    expect(page.get_by_role("heading", name="ServeScope", exact=True)).to_be_visible()
    expect(page.get_by_text("model 'pets' has 1 available version(s)", exact=False)).to_be_visible()
    page.wait_for_load_state("networkidle")
    for link, title in PAGES.items():
        page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)  # the page icon is set once the page script has run
    visited = [url for url in requested if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    assert visited and [url for url in visited if urlsplit(url).netloc != own] == []
    assert f"ws://{own}/_stcore/stream" in visited
