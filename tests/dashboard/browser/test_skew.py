"""The Skew finder page in headless Chromium against the real app (`streamlit run`, a temporary run store) and a
mis-profiled model served by the embedded server: torch_named (tests/dashboard/skew/twins.py) wants Keras "torch"
pixels ([0, 1], then ImageNet's mean/std) and names its classes, so without a profile the dashboard assumes pets'
preparation. On the shared photos, labelled by folder, the finder ranks keras-torch first, and applying it changes
the accuracy the page shows for this session's profile."""
from __future__ import annotations

import re
import zipfile

import pytest

from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, running_dashboard  # noqa: F401 - browser is a fixture
from tests.support import SHARED_TRAIN, embedded_server

pytestmark = BROWSER_TESTS
MODEL = "torch_named"


@pytest.fixture(scope="module")
def mis_profiled_url(tmp_path_factory, request):
    pytest.importorskip("tensorflow")
    if not (SHARED_TRAIN / "manifest.csv").exists():
        pytest.skip(f"training photos not found at {SHARED_TRAIN}: the twin's head is trained on them")
    from tests.dashboard.skew.twins import build_twins
    base = tmp_path_factory.mktemp("skew_browser_model")
    config = base / "models.config"
    config.write_text(build_twins(base, SHARED_TRAIN, names=(MODEL,), cache=getattr(request.config, "cache", None)))
    with embedded_server([f"--model_config_file={config}"], wait_for_models={MODEL: 1}, timeout=600) as url:
        yield url


@pytest.fixture(scope="module")
def skew_dashboard(mis_profiled_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("skew_dashboard")
    with running_dashboard(folder, TF_SERVING_URL=mis_profiled_url, SERVESCOPE_MODEL=MODEL, SERVESCOPE_LABELS="",
                           SERVESCOPE_DB=str(folder / "runs.db")) as url:
        yield url


@pytest.fixture
def tab(browser):  # noqa: F811 - the fixture imported above
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(300_000)
    yield page
    context.close()


def metric_value(tab, label: str) -> str:
    return tab.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue").inner_text()


def test_the_right_preset_ranks_first_and_applying_it_changes_the_accuracy_shown(tab, skew_dashboard,
                                                                              labelled_photos, tmp_path):
    from playwright.sync_api import expect
    expect.set_options(timeout=300_000)   # 15 preparations × 50 photos on a shared machine
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path, label in labelled_photos:
            bundle.write(path, f"photos/{label}/{path.name}")
    tab.goto(f"{skew_dashboard}/skew")
    expect(tab.get_by_role("heading", name="Which preparation fits this model?")).to_be_visible()
    tab.locator('input[type="file"]').first.set_input_files(str(archive))
    count = len(labelled_photos)
    expect(tab.get_by_text(re.compile(f"ground truth from folder names:\u2060? 3 classes, {count} of {count} "
                                      "images"))).to_be_visible()
    tab.get_by_role("button", name="Find the preparation").click()

    expect(tab.get_by_text(re.compile(r"^Best fit:\u2060? keras-torch:\u2060? accuracy"))).to_be_visible()
    assumed = metric_value(tab, "Accuracy with the default preparation (assumed now)")
    best = metric_value(tab, "Best preparation (accuracy)")
    assert re.fullmatch(r"\d+\.\d%", assumed) and re.fullmatch(r"\d+\.\d%", best)
    assert float(best[:-1]) > float(assumed[:-1])

    tab.get_by_role("button", name="Apply to this session").click()
    applied = tab.get_by_test_id("stMetric").filter(has_text="Accuracy with this session's profile")
    expect(applied.get_by_test_id("stMetricValue")).to_have_text(best)
    expect(tab.get_by_text(re.compile(r"This session classifies torch_named with profile sha256:\u2060?[0-9a-f]{8}… "
                                      r"\(keras-torch\)\."))).to_be_visible()
