"""Issue 19 in headless Chromium: with the operator's SERVESCOPE_PROFILES folder configured, a labelled upload
(the shared cat and dog photos in folders) on the tutorial's single-sigmoid Keras signature (tests/conventions.py,
served by `python -m serving`) is classified as Cat/Dog and shows its accuracy, which equals the stored rows'."""
from __future__ import annotations

import zipfile

import pytest

from client import ModelProfile
from client.store.database import open_store
from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, page, running_dashboard  # noqa: F401 - fixtures
from tests.dashboard.browser.test_classify import run_in
from tests.dashboard.readable import shown
from tests.support import embedded_server

pytestmark = BROWSER_TESTS
MODEL = "tutorial_sigmoid"


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """The tutorial convention's SavedModel served by the embedded server, and a profile folder holding its file."""
    pytest.importorskip("tensorflow")
    from tests import conventions
    base = tmp_path_factory.mktemp("tutorial")
    convention = conventions.BY_NAME[MODEL]
    convention.build(base / MODEL / "1")
    (base / "models.config").write_text(
        f'model_config_list {{\n  config {{\n    name: "{MODEL}"\n    base_path: "{base / MODEL}"\n'
        '    model_platform: "tensorflow"\n  }\n}\n')
    folder = base / "profiles"
    folder.mkdir()
    convention.write_profile(folder)
    with embedded_server([f"--model_config_file={base / 'models.config'}"], wait_for_models={MODEL: 1}) as url:
        yield url, folder


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return tmp_path_factory.mktemp("store") / "runs.db"


@pytest.fixture(scope="module")
def dashboard_url(tutorial, database, tmp_path_factory):
    url, folder = tutorial
    with running_dashboard(tmp_path_factory.mktemp("streamlit"), TF_SERVING_URL=url, SERVESCOPE_MODEL=MODEL,
                           SERVESCOPE_DB=str(database), SERVESCOPE_PROFILES=str(folder),
                           SERVESCOPE_LABELS="") as dashboard:
        yield dashboard


def cats_and_dogs(path, shared_images):
    """Every cat and dog test photo, in folders named by their class (ground truth from folder names)."""
    with zipfile.ZipFile(path, "w") as archive:
        for label in ("cat", "dog"):
            for photo in sorted((shared_images / label).glob("*.jpg")):
                archive.write(photo, f"{label}/{photo.name}")
    return path


def test_a_labelled_upload_on_the_sigmoid_model_shows_cat_dog_accuracy(page, dashboard_url, database, tutorial,
                                                                        shared_images, tmp_path):
    from playwright.sync_api import expect
    _, folder = tutorial
    archive = cats_and_dogs(tmp_path / "cats-and-dogs.zip", shared_images)
    count = len(zipfile.ZipFile(archive).namelist())
    page.goto(f"{dashboard_url}/classify")
    expect(page.get_by_role("heading", name="Classify", exact=True)).to_be_visible()
    expect(page.get_by_text(shown(f"Model profile: SERVESCOPE_PROFILES/{MODEL}.json")).first).to_be_visible()
    page.locator('input[type="file"]').first.set_input_files(str(archive))
    expect(page.get_by_text(shown(f"ground truth from folder names: 2 classes, {count} of {count} images"))
           ).to_be_visible()
    page.get_by_role("button", name="Classify", exact=True).click()
    page.wait_for_url(lambda url: run_in(url) is not None)
    run_id = run_in(page.url)
    expect(page.get_by_text(shown(f"Run {run_id}: complete: {count} of {count} image(s) classified."))
           ).to_be_visible(timeout=180_000)
    store = open_store(database)
    run = store.get_run(run_id)
    assert run.class_names == ("Cat", "Dog")
    assert run.profile.digest == ModelProfile.from_file(folder / f"{MODEL}.json").digest and not run.profile.assumed
    rows = store.run_rows(run_id)
    assert set(rows["ground_truth"]) == {"Cat", "Dog"} and set(rows["top_class"]) <= {"Cat", "Dog"}
    correct = int((rows["top_class"] == rows["ground_truth"]).sum())
    accuracy = page.get_by_test_id("stMetric").filter(has_text="Accuracy").first
    expect(accuracy).to_contain_text(f"{correct / count:.1%}")
    expect(accuracy).to_contain_text(f"{correct}/{count}")
    expect(page.get_by_text("Preparation assumed", exact=False)).to_have_count(0)
