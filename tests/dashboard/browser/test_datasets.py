"""Datasets in headless Chromium against the real app (`streamlit run`, its own run store and image store) and the
embedded server's pets model: a labelled ZIP of the test photos saved as a dataset (its name full of markup, shown as
text), Classify run from the dataset instead of an upload, and the Datasets page listing the dataset with that run."""
from __future__ import annotations

import re
import zipfile

import pytest

from client.store import open_store
from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, running_dashboard  # noqa: F401 - browser is a fixture
from tests.dashboard.readable import shown

pytestmark = BROWSER_TESTS
NAME = "march <b>audit</b> & co"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("datasets_dashboard")


@pytest.fixture(scope="module")
def dashboard(pets_server_url, folder):
    with running_dashboard(folder, TF_SERVING_URL=pets_server_url, SERVESCOPE_MODEL="pets",
                           SERVESCOPE_DB=str(folder / "runs.db"), SERVESCOPE_BLOBS=str(folder / "blobs")) as url:
        yield url


@pytest.fixture
def tab(browser):  # noqa: F811 - the fixture imported above
    context = browser.new_context(viewport={"width": 1400, "height": 1650})
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    context.close()


def test_an_upload_saved_as_a_dataset_is_classified_from_it_and_listed_with_its_run(tab, dashboard, folder,
                                                                                     labelled_photos, tmp_path):
    from playwright.sync_api import expect
    archive = tmp_path / "audit.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path, label in labelled_photos:
            bundle.write(path, f"audit/{label}/{path.name}")
    count = len(labelled_photos)
    tab.goto(f"{dashboard}/classify")
    expect(tab.get_by_role("heading", name="Classify", exact=True)).to_be_visible()
    tab.locator('input[type="file"]').first.set_input_files(str(archive))
    expect(tab.get_by_text(shown(f"ground truth from folder names: 3 classes, {count} of {count} images"))
           ).to_be_visible()

    # Saved as a dataset with its truth: the name is plain text on the page.
    tab.get_by_text("Save these images as a dataset", exact=True).click()
    name_box = tab.get_by_role("textbox", name="Dataset name")
    save = tab.get_by_role("button", name="Save as dataset")
    for _attempt in range(3):   # a rerun still in flight (the upload's truth detection) can redraw the box empty
        name_box.fill(NAME)
        name_box.press("Enter")
        try:
            expect(save).to_be_enabled(timeout=10_000)   # the script has the name: Save is offered
            break
        except AssertionError:
            continue
    save.click()
    created = tab.get_by_text(shown(f"created dataset '{NAME}': {count} image(s), truth for {count}; {count} stored"))
    expect(created).to_be_visible()
    assert tab.locator("b", has_text="audit").count() == 0   # never markup

    # Classify from the dataset: no upload.
    tab.get_by_text("A dataset", exact=True).click()
    expect(tab.get_by_text(shown(f"{NAME}@1: {count} image(s), truth for {count}"), exact=False)).to_be_visible()
    expect(tab.get_by_text(shown(f"ground truth from dataset {NAME}@1: 3 classes, {count} of {count} images"))
           ).to_be_visible()
    tab.get_by_role("button", name="Classify", exact=True).click()
    tab.wait_for_url(re.compile(r"[?&]run=[0-9a-f]+"))
    run_id = re.search(r"[?&]run=([0-9a-f]+)", tab.url)[1]
    expect(tab.get_by_text(shown(f"Run {run_id}: complete: {count} of {count} image(s) classified."))
           ).to_be_visible()
    expect(tab.get_by_text(shown(f"Run on dataset {NAME}@1."))).to_be_visible()
    store = open_store(folder / "runs.db")
    run = store.get_run(run_id)
    assert (run.dataset_name, run.dataset_version, run.keep_images) == (NAME, 1, False)
    rows = store.run_rows(run_id)
    assert rows["ground_truth"].notna().all() and rows["error"].isna().all()

    # The Datasets page lists it, with that run.
    tab.get_by_test_id("stSidebar").get_by_role("link", name="Datasets", exact=True).click()
    expect(tab.get_by_role("heading", name="Datasets", exact=True)).to_be_visible()
    expect(tab.get_by_role("heading", name=f"{NAME}, version 1")).to_be_visible()
    runs = tab.get_by_test_id("stMetric").filter(has_text="Runs")
    expect(runs).to_contain_text("1")
    expect(tab.get_by_test_id("stMetric").filter(has_text="Truth coverage")).to_contain_text("100.0%")
    newest = tab.get_by_role("link", name=shown(f"Newest run: {run_id}: label:stable → version 1, "))
    expect(newest).to_be_visible()
    newest.click()
    expect(tab.get_by_text(shown(f"Run {run_id}: complete: {count} of {count} image(s) classified."))
           ).to_be_visible()
    assert f"run={run_id}" in tab.url
