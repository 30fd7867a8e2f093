"""Run ownership in headless Chromium on a real `streamlit run`: the browser that started a run keeps its Cancel
across a reload and in a new tab (its token lives in a cookie the page writes), while a second browser context opens
the same link and is told who can cancel."""
from __future__ import annotations

import json
import re
import threading

import pytest
from werkzeug.wrappers import Request

from dashboard.runs.ownership import WHO_MAY_CANCEL, is_browser_token
from dashboard.ui.access import COOKIE
from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, running_dashboard  # noqa: F401
from tests.dashboard.readable import shown
from tests.support import fake_model_handler, png_bytes, wait_until

pytestmark = BROWSER_TESTS


def run_in(url: str) -> str | None:
    found = re.search(r"[?&]run=([0-9a-f]+)", url)
    return found.group(1) if found else None


def test_the_starting_browser_keeps_cancel_after_a_reload_and_in_a_new_tab_and_another_has_none(
        browser, fake_server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect
    gate = threading.Event()

    def predict(request: Request):
        if len(json.loads(request.get_data())["instances"]) > 1:   # the run's batches wait; the class probe not
            gate.wait(timeout=120)
        return fake_model_handler()(request)

    server = fake_server(fake_model_handler(predict=predict))
    photos = []
    for index in range(4):
        photos.append(tmp_path / f"{index}.png")
        photos[-1].write_bytes(png_bytes((200, 10, 10)))
    owner = browser.new_context()
    stranger = browser.new_context()
    try:
        with running_dashboard(tmp_path, TF_SERVING_URL=server.url, SERVESCOPE_MODEL="pets",
                               SERVESCOPE_DB=str(tmp_path / "runs.db")) as url:
            tab = owner.new_page()
            tab.set_default_timeout(60_000)
            tab.goto(f"{url}/classify")
            tab.locator('input[type="file"]').first.set_input_files([str(photo) for photo in photos])
            expect(tab.get_by_role("button", name="Classify", exact=True)).to_be_enabled()
            tab.get_by_role("button", name="Classify", exact=True).click()
            tab.wait_for_url(lambda address: run_in(address) is not None)
            run_id = run_in(tab.url)
            cancel = tab.get_by_role("button", name="Cancel")
            expect(cancel).to_be_visible()
            [cookie] = [c for c in owner.cookies() if c["name"] == COOKIE]
            assert is_browser_token(cookie["value"]) and cookie["sameSite"] == "Strict"
            # A reload is a new session of the same browser: the cookie names it, Cancel stays.
            tab.reload()
            expect(tab.get_by_role("button", name="Cancel")).to_be_visible()
            expect(tab.get_by_text(WHO_MAY_CANCEL)).to_have_count(0)
            # So does a new tab.
            second_tab = owner.new_page()
            second_tab.goto(f"{url}/classify?run={run_id}")
            expect(second_tab.get_by_role("button", name="Cancel")).to_be_visible()
            # Another browser opens the link: the run's progress, no Cancel, and who can.
            other = stranger.new_page()
            other.goto(f"{url}/classify?run={run_id}")
            expect(other.get_by_text(WHO_MAY_CANCEL)).to_be_visible()
            expect(other.get_by_role("button", name="Cancel")).to_have_count(0)
            wait_until(lambda: any(c["name"] == COOKIE for c in stranger.cookies()), timeout=30,
                       what="the second browser's cookie")
            [theirs] = [c for c in stranger.cookies() if c["name"] == COOKIE]
            assert is_browser_token(theirs["value"]) and theirs["value"] != cookie["value"]
            # The owner cancels, from the new tab.
            second_tab.get_by_role("button", name="Cancel").click()
            expect(second_tab.get_by_text("Cancelling: the results that arrived are kept.")).to_be_visible()
            gate.set()
            expect(second_tab.get_by_text(shown(f"Run {run_id}: cancelled with 0 of 4 done"))).to_be_visible()
    finally:
        gate.set()
        owner.close()
        stranger.close()
