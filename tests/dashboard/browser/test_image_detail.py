"""The image detail view in headless Chromium on the real app and the embedded pets server: a mistake's tile opens
it, digit keys pick a class (none is chosen before), Enter saves it and moves to the next image, and where the model
looked is drawn with its cost."""
from __future__ import annotations

import re
import zipfile

import pytest

from dashboard.evaluate import detail_view
from client.store.database import open_store
from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, running_dashboard  # noqa: F401 - browser is a fixture
from tests.dashboard.readable import shown
from tests.support import wait_until

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def detail_dashboard(pets_server_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("detail_dashboard")
    database = folder / "runs.db"
    with running_dashboard(folder, TF_SERVING_URL=pets_server_url, SERVESCOPE_MODEL="pets",
                           SERVESCOPE_DB=str(database)) as url:
        yield url, database


@pytest.fixture
def tab(browser):  # noqa: F811 - the fixture imported above
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    context.close()


def mislabelled_zip(path, labelled_photos):
    """Every test photo under a class folder, and three dogs filed as cats: at least three mistakes."""
    dogs = [p for p, label in labelled_photos if label == "dog"][:3]
    with zipfile.ZipFile(path, "w") as archive:
        for photo, label in labelled_photos[:24]:
            archive.write(photo, f"photos/{label}/{photo.name}")
        for photo in dogs:
            archive.write(photo, f"photos/cat/filed-{photo.name}")
    return path


def test_a_tile_opens_the_image_and_keys_correct_it(tab, detail_dashboard, labelled_photos, tmp_path):
    from playwright.sync_api import expect
    url, database = detail_dashboard
    tab.goto(f"{url}/classify")
    tab.locator('input[type="file"]').first.set_input_files(str(mislabelled_zip(tmp_path / "p.zip", labelled_photos)))
    expect(tab.get_by_text("ground truth from folder names", exact=False)).to_be_visible()
    tab.get_by_role("button", name="Classify", exact=True).click()
    expect(tab.get_by_text(re.compile("Run \\w+:\u2060? complete"))).to_be_visible()
    run_id = re.search(r"[?&]run=(\w+)", tab.url)[1]
    store = open_store(database)
    total = store.get_run(run_id).total
    wait_until(lambda: store.thumbnail_count(run_id) == total, timeout=60, what="the thumbnails")
    mistakes = tab.get_by_text(re.compile(r"^Mistakes \(\d+\)$"))
    expect(mistakes).to_be_visible()
    count = int(re.search(r"\d+", mistakes.inner_text())[0])
    mistakes.click()
    tiles = tab.get_by_test_id("servescope-tile")
    expect(tiles).to_have_count(count)
    tiles.first.click()
    dialog = tab.get_by_role("dialog")
    expect(dialog.get_by_text(f"1 of {count} in the mistakes")).to_be_visible()
    expect(dialog.get_by_role("radio", checked=True)).to_have_count(0)      # no class chosen for the analyst
    expect(dialog.get_by_test_id("servescope-keys")).to_be_attached()       # the key listener is on
    tab.keyboard.press("2")
    expect(dialog.get_by_role("radio", name="2: dog")).to_be_checked()
    first = store.run_rows(run_id)
    tab.keyboard.press("Enter")
    expect(dialog.get_by_text(f"2 of {count} in the mistakes")).to_be_visible()
    expect(dialog.get_by_role("radio", checked=True)).to_have_count(0)      # the next image: nothing chosen
    corrected = store.run_rows(run_id)["correction"].dropna()
    assert corrected.tolist() == ["dog"] and first["correction"].isna().all()
    # Where the model looked, on demand, with its cost.
    dialog.get_by_role("button", name=detail_view.MAP_BUTTON).click()
    expect(dialog.get_by_text(re.compile(r"^1 request, 65 images, [0-9.]+ s; computed on the \d+ × \d+ px image"))
           ).to_be_visible()
    expect(dialog.get_by_test_id("stImageContainer")).to_have_count(2)   # the image and its map
    tab.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(tab.get_by_text(shown(f"{total} of {total} images have ground truth (1 corrected)"))
           ).to_be_visible()
    # A click on a results row (its selection box, left of the first column) opens that row's image.
    click_result_row(tab, 1)
    expect(dialog.get_by_text(f"2 of {total} in the results table")).to_be_visible()


def results_table(page):
    """The results table: the dataframe right after the caption that says its rows open the image."""
    caption = page.get_by_text("Click a row to open the image", exact=False)
    return caption.locator("xpath=ancestor::div[@data-testid='stElementContainer']/following-sibling::div[1]"
                           ).get_by_test_id("stDataFrame")


def click_result_row(page, row: int) -> None:
    """Click row `row` (0 first) of the results table on its selection box, left of the first column (a canvas:
    35 px rows under a 36 px header)."""
    table = results_table(page)
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 36 + 35 * row + 17)
