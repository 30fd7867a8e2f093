"""In headless Chromium (issue 21): file names with a right-to-left override and a zero-width space, uploaded to
Classify, are read on the page as escapes ("report\\u202efdp.png"), never as the characters themselves (which would
show "reportgnp.pdf"); the run goes on as usual. The dashboard runs against the fake TF Serving (tests/support.py)."""
from __future__ import annotations

import pytest

from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, page, running_dashboard  # noqa: F401  (fixtures)
from tests.dashboard.browser.test_image_detail import click_result_row
from tests.dashboard.readable import shown
from tests.support import fake_model_handler, fake_servers, png_bytes

pytestmark = BROWSER_TESTS

NAMES = ("report\u202efdp.png", "dog\u200bzero.png")
ESCAPED = ("report\\u202efdp.png", "dog\\u200bzero.png")


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory):
    with fake_servers() as start:
        server = start(fake_model_handler())
        folder = tmp_path_factory.mktemp("hidden")
        with running_dashboard(folder, TF_SERVING_URL=server.url, SERVESCOPE_MODEL="pets",
                               SERVESCOPE_DB=str(folder / "runs.db")) as url:
            yield url


def test_hidden_characters_in_file_names_are_read_as_escapes(page, dashboard_url):  # noqa: F811
    from playwright.sync_api import expect
    page.goto(f"{dashboard_url}/classify")
    expect(page.get_by_role("heading", name="Classify", exact=True)).to_be_visible()
    page.locator('input[type="file"]').first.set_input_files([
        {"name": NAMES[0], "mimeType": "image/png", "buffer": png_bytes((200, 10, 10))},
        {"name": NAMES[1], "mimeType": "image/png", "buffer": png_bytes((10, 200, 10))}])
    expect(page.get_by_text("ground truth from file names", exact=False)).to_be_visible()
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(page.get_by_text(shown("complete: 2 of 2 image(s) classified"), exact=False)).to_be_visible(timeout=60_000)
    assert_no_hidden_characters(page)
    # A click on each results row opens the image detail view: its short and full names read as escapes too.
    dialog = page.get_by_role("dialog")
    for row, name in enumerate(ESCAPED):
        click_result_row(page, row)
        expect(dialog.get_by_test_id("stText").filter(has_text=name).first).to_be_visible()
        assert_no_hidden_characters(page)
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)


def assert_no_hidden_characters(page) -> None:
    text = page.locator("body").text_content()
    for char in ("\u202e", "\u200b"):
        assert char not in text, repr(char)
