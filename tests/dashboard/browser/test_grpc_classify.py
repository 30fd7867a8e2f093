"""The dashboard in headless Chromium pointed at a gRPC address only (SERVESCOPE_SERVERS=name=grpc://…): the embedded
server's gRPC API (`python -m serving --port`), real photos classified, the results table and the request inspector's
gRPC calls on the page."""
from __future__ import annotations

import csv
import re

import pytest

from client import TFServingClient
from client.store.database import open_store
from tests.dashboard.browser.test_browser import BROWSER_TESTS, browser, page, running_dashboard  # noqa: F401  (fixtures)
from tests.dashboard.readable import shown
from tests.support import PETS_CONFIG, free_port, serving_process

pytestmark = BROWSER_TESTS
PHOTOS = 6


@pytest.fixture(scope="module")
def grpc_address():
    """grpc://127.0.0.1:PORT of an embedded server serving pets (versions 1 and 2) on a free gRPC port."""
    if not PETS_CONFIG.exists():
        pytest.fail(f"{PETS_CONFIG} is missing: run `python -m pets.build` (make test does)")
    port = free_port()
    with serving_process([f"--model_config_file={PETS_CONFIG}", f"--port={port}"], wait_for_models={"pets": 2}):
        yield f"grpc://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return tmp_path_factory.mktemp("store") / "runs.db"


@pytest.fixture(scope="module")
def dashboard_url(grpc_address, database, tmp_path_factory):
    with running_dashboard(tmp_path_factory.mktemp("streamlit"), SERVESCOPE_SERVERS=f"pets-grpc={grpc_address}",
                           SERVESCOPE_MODEL="pets", SERVESCOPE_DB=str(database)) as url:
        yield url


@pytest.fixture(scope="module")
def photos(shared_images):
    with open(shared_images / "manifest.csv", newline="") as handle:
        return [shared_images / row["file"] for row in csv.DictReader(handle)][::8][:PHOTOS]  # cats, dogs, others


def test_photos_classified_through_a_grpc_address_fill_the_results_table(page, dashboard_url, grpc_address, database,
                                                                          photos):
    from playwright.sync_api import expect
    page.goto(dashboard_url)
    expect(page.get_by_text(shown(f"Connected to {grpc_address}: model 'pets' has 2 available version(s): 1, 2."))
           ).to_be_visible()
    page.goto(f"{dashboard_url}/classify")
    expect(page.get_by_role("heading", name="Classify", exact=True)).to_be_visible()
    page.locator('input[type="file"]').first.set_input_files([str(photo) for photo in photos])
    page.get_by_role("button", name="Classify", exact=True).click()
    page.wait_for_url(re.compile(r"[?&]run=[0-9a-f]+"))
    run_id = re.search(r"[?&]run=([0-9a-f]+)", page.url).group(1)
    expect(page.get_by_text(shown(f"Run {run_id}: complete: {PHOTOS} of {PHOTOS} image(s) classified."))
           ).to_be_visible(timeout=120_000)
    # The stored rows are what the client answers over gRPC for the same photos and the version the run used.
    rows = open_store(database).run_rows(run_id)
    [version] = set(rows["version"].tolist())
    with TFServingClient(grpc_address, "pets") as client:
        direct = client.classify(photos, version=version)
    assert sorted(zip(rows["source"], rows["top_class"])) == sorted(
        (photo.name, result.label) for photo, result in zip(photos, direct))
    # The results table (its grid's accessible rows: the cells are drawn on a canvas) lists every photo's class.
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    header = table.locator("thead th")
    expect(header.first).to_have_text("image")
    columns = header.all_text_contents()
    file_column, class_column = columns.index("file"), columns.index("top class")
    grid_rows = table.locator("tbody tr")
    expect(grid_rows).to_have_count(PHOTOS)
    cells = [grid_rows.nth(i).locator("td").all_text_contents() for i in range(PHOTOS)]
    assert sorted((row[file_column], row[class_column]) for row in cells) == sorted(
        (photo.name, result.label) for photo, result in zip(photos, direct))
    # The request inspector lists the run's gRPC calls by method path and status code.
    page.get_by_text("Request inspector", exact=True).click()
    inspector = page.get_by_test_id("stExpander").filter(has_text="Request inspector")
    expect(inspector.get_by_text(re.compile(r"^\d+ gRPC call\(s\), 0 with a status other than OK;"))).to_be_visible()
    expect(inspector.get_by_test_id("stCode").first).to_contain_text(
        f"gRPC {grpc_address}/tensorflow.serving.PredictionService/Predict")
    expect(inspector.get_by_test_id("stCode").first).to_contain_text(re.compile(r"-> OK in [\d.]+ ms; answer "))
