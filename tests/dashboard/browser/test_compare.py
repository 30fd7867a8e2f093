"""The Compare page in headless Chromium against the real app (`streamlit run`, a temporary run store) and the
embedded server's pets versions: a labelled ZIP of real photos gives the verdict card, and choosing a flip-matrix
cell lists that cell's images."""
from __future__ import annotations

import re
import zipfile

import pytest

from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, running_dashboard  # noqa: F401 - browser is a fixture

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def compare_dashboard(pets_server_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare_dashboard")
    with running_dashboard(folder, TF_SERVING_URL=pets_server_url, SERVESCOPE_MODEL="pets",
                           SERVESCOPE_DB=str(folder / "runs.db")) as url:
        yield url


@pytest.fixture
def tab(browser):  # noqa: F811 - the fixture imported above
    context = browser.new_context(viewport={"width": 1400, "height": 1650})
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    context.close()


def test_the_verdict_card_and_a_flip_cell_listing_its_images(tab, compare_dashboard, labelled_photos, tmp_path):
    from playwright.sync_api import expect
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path, label in labelled_photos:
            bundle.write(path, f"photos/{label}/{path.name}")
    tab.goto(f"{compare_dashboard}/compare")
    expect(tab.get_by_role("heading", name="Compare versions", exact=True)).to_be_visible()
    tab.locator('input[type="file"]').first.set_input_files(str(archive))
    # (dashboard.plain puts an invisible word joiner after every ':' so no text becomes a link)
    expect(tab.get_by_text(re.compile(f"ground truth from folder names:\u2060? 3 classes, {len(labelled_photos)} "
                                      f"of {len(labelled_photos)} images"))).to_be_visible()
    tab.get_by_role("button", name="Compare", exact=True).click()

    # The verdict card: one sentence with McNemar's p, and the four figures under it.
    expect(tab.get_by_text(re.compile(r"McNemar p (=|<) [0-9.]+ — (not )?significant at 0\.05 on "
                                      rf"{len(labelled_photos)} images\."))).to_be_visible()
    expect(tab.get_by_text(re.compile(r"^(Promote|Keep|No clear difference) .* labelled images"))).to_be_visible()
    expect(tab.get_by_text("Fixes / regressions", exact=True)).to_be_visible()
    assert "comparison=" in tab.url

    # A flip-matrix cell chosen: the list under it holds that cell's images (its count).
    cell_box = tab.get_by_test_id("stSelectbox").filter(has_text="Images in a cell")
    cell_box.click()
    options = tab.get_by_role("option")
    expect(options.first).to_be_visible()
    names = options.all_inner_texts()
    flips = [name for name in names if (m := re.match(r"(\S+) → (\S+) \((\d+)\)", name)) and m[1] != m[2]]
    chosen = flips[0] if flips else names[1]
    options.filter(has_text=chosen).first.click()
    count = re.search(r"\((\d+)\)$", chosen)[1]
    expect(tab.get_by_role("combobox", name="Images in a cell (or click a cell)")).to_have_value(chosen)
    listed = tab.get_by_text(re.compile(rf"^{count} image\(s\): click one to see it"))
    expect(listed).to_be_visible()
    # A click on a listed image opens it with A's and B's answers, and both models' maps on demand.
    table = listed.locator("xpath=ancestor::div[@data-testid='stElementContainer']/following-sibling::div[1]"
                           ).get_by_test_id("stDataFrame")
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    tab.mouse.click(box["x"] + 18, box["y"] + 36 + 17)
    dialog = tab.get_by_role("dialog")
    expect(dialog.get_by_text(f"1 of {count} in “{chosen}”")).to_be_visible()
    dialog.get_by_role("button", name="Where did the model look?").click()
    expect(dialog.get_by_text(re.compile(r"^1 request, 65 images, "))).to_have_count(2)
    expect(dialog.get_by_test_id("stImageContainer")).to_have_count(3)      # the image, A's map, B's map
    tab.keyboard.press("Escape")
    # The same view reopens from its link in another tab.
    other = tab.context.new_page()
    other.goto(tab.url)
    expect(other.get_by_text("Fixes / regressions", exact=True)).to_be_visible()
