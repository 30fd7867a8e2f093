"""The dashboard as deployed, checked from outside: it listens on loopback only (issue 12.10); an unexpected error
shows no traceback, message or path to the visitor and is logged on the server (12.9); two dashboards on
different ports sharing one PostgreSQL see each other's runs (issue 10)."""
from __future__ import annotations

import os
import subprocess
import zipfile

import pytest

from launcher.supervise import DASHBOARD_ENTRY, dashboard_command
from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, healthy, page, running_dashboard  # noqa: F401  (fixtures)
from tests.dashboard.browser.test_classify import start_run
from tests.support import ROOT, fake_model_handler, free_port, png_bytes, wait_until

pytestmark = BROWSER_TESTS


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket in LISTEN state on `port`, from the kernel's own tables."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = open(table).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port and len(address) == width:
                found.add(address)
    return found


def test_the_dashboard_listens_on_loopback_only(tmp_path, fake_server):
    server = fake_server(fake_model_handler())
    with running_dashboard(tmp_path, TF_SERVING_URL=server.url, SERVESCOPE_DB=str(tmp_path / "runs.db")) as url:
        port = int(url.rsplit(":", 1)[1])
        # 0100007F is 127.0.0.1 in /proc's byte order; no 0.0.0.0 (00000000) or [::] listener.
        assert listening_addresses(port) == {"0100007F"}


def test_an_unexpected_error_shows_no_details_and_is_logged(page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "streamlit.log"
    argv = dashboard_command(port)
    argv[argv.index(str(DASHBOARD_ENTRY))] = str(ROOT / "tests" / "dashboard" / "apps" / "raises_app.py")
    with open(log_path, "wb") as log:
        # From the project folder, so .streamlit/config.toml (client.showErrorDetails = "none") applies.
        proc = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: healthy(url), timeout=90, what=f"streamlit health at {url}")
            page.goto(url)
            expect(page.get_by_role("heading", name="About to fail")).to_be_visible()
            expect(page.get_by_test_id("stException").or_(page.get_by_test_id("stAlert")).first).to_be_visible()
            main = page.locator("[data-testid='stMain']")
            expect(main).to_contain_text("The original error message is redacted")
            shown = main.inner_text()
            # Streamlit's "Ask Google/ChatGPT" buttons stay, but they can only carry the redacted sentence.
            links = " ".join(main.locator("a").evaluate_all("links => links.map(link => link.href)"))
            for secret in ("secret-token-4711", "/srv/servescope", "Traceback", "RuntimeError", "raises_app.py"):
                assert secret not in shown and secret not in links
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    logged = log_path.read_text()
    assert "secret-token-4711" in logged and "Traceback" in logged


def test_two_dashboards_on_one_postgresql_see_each_others_runs(browser, tmp_path, fake_server,  # noqa: F811
                                                                postgres_server):
    from playwright.sync_api import expect
    database = postgres_server.create_database()
    server = fake_server(fake_model_handler())
    archive = tmp_path / "labelled.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, colour in (("cat/red.png", (200, 10, 10)), ("dog/green.png", (10, 200, 10))):
            bundle.writestr(name, png_bytes(colour))
    settings = dict(TF_SERVING_URL=server.url, SERVESCOPE_DB=database)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_dashboard(tmp_path / "a", **settings) as first, running_dashboard(tmp_path / "b", **settings) as second:
        assert first != second
        one = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        other = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
        try:
            run_id = start_run(one, first, archive)
            # The other dashboard's History lists it (the list is a canvas table: its caption counts the runs) ...
            other.goto(f"{second}/history")
            expect(other.get_by_text("1 of 1 stored run(s) shown in", exact=False)).to_be_visible()
            # ... and opens it by its link, with the first dashboard's results.
            other.goto(f"{second}/classify?run={run_id}")
            expect(other.get_by_role("heading", name=f"Run {run_id}")).to_be_visible()
            expect(other.get_by_text("ground truth from folder names", exact=False).first).to_be_visible()
        finally:
            one.context.close()
            other.context.close()
