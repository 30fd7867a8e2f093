"""A few pages end to end through AppTest against the real embedded server: the pets model with real photos,
and TF Serving's half_plus_two (a real model that cannot classify images). The fast page tests use the fake."""
from __future__ import annotations

import pytest

from dashboard.tables import FAILED_THUMBNAIL
from dashboard.targets import Target
from tests.dashboard.conftest import CORRUPT_JPEG, zip_bytes
from tests.dashboard.test_pages import texts, upload_and_run
from tests.support import embedded_server, png_bytes

pytestmark = pytest.mark.slow


def photo_uploads(few_photos, extra=()):
    return [(path.name, path.read_bytes(), "image/jpeg") for path, _ in few_photos] + list(extra)


@pytest.fixture(scope="module")
def half_plus_two_url(tmp_path_factory):
    from tests.serving.model_builders import build_half_plus_two  # imports TensorFlow: only when this runs
    root = tmp_path_factory.mktemp("half_plus_two")
    build_half_plus_two(root / "1", offset=2.0)
    with embedded_server(["--model_name=half_plus_two", f"--model_base_path={root}"],
                         wait_for_models={"half_plus_two": 1}) as url:
        yield url


def test_classify_real_photos_a_zip_and_a_corrupt_file_on_the_canary(page, pets_server_url, few_photos):
    app = page("classify", pets_server_url).run()
    assert app.selectbox(key="classify_target").options == [
        "label stable → version 1", "label canary → version 2", "version 1", "version 2", "latest"]
    archive = zip_bytes({"more/" + path.name: path.read_bytes() for path, _ in few_photos[:2]})
    app.selectbox(key="classify_target").select_index(1)
    upload_and_run(app, "classify", photo_uploads(
        few_photos, [("broken.jpg", CORRUPT_JPEG, "image/jpeg"), ("more.zip", archive, "application/zip")]))
    assert not app.exception and not app.error
    run = app.session_state["classify_last_result"]
    assert (run.n_images, run.n_errors, run.versions, run.target) == (9, 1, [2], Target(label="canary"))
    assert texts(app.warning) == [
        "label canary (version 2): Classified 8 of 9 image(s): 1 failed — not a usable image."]
    table = app.dataframe[0].value
    assert table["source"].tolist() == ([path.name for path, _ in few_photos] + ["broken.jpg"]
                                        + [f"more.zip/more/{path.name}" for path, _ in few_photos[:2]])
    assert table.iloc[6]["thumbnail"] == FAILED_THUMBNAIL
    assert all(uri.startswith("data:image/jpeg;base64,") for uri in table["thumbnail"].drop(index=6))
    # Class counts, the first photo's probabilities and the ImageNet top-5 the real model returns.
    assert len(app.get("vega_lite_chart")) == 3


def test_models_page_lists_both_real_versions(page, pets_server_url):
    app = page("models", pets_server_url).run()
    assert not app.exception and not app.error
    assert app.dataframe[0].value[["version", "state", "labels"]].to_dict("records") == [
        {"version": 1, "state": "AVAILABLE", "labels": "stable"},
        {"version": 2, "state": "AVAILABLE", "labels": "canary"}]
    assert len(app.table) == 4  # two signatures per version
    assert app.table[2].value.loc[("input", "images")].tolist() == ["DT_FLOAT", "[-1, 224, 224, 3]"]


@pytest.mark.parametrize("name", ["classify"])  # Compare checks targets before any upload: test_compare_page.py
def test_half_plus_two_gives_a_typed_error_on_every_classifying_page(page, half_plus_two_url, name):
    app = page(name, half_plus_two_url, model="half_plus_two").run()
    upload_and_run(app, name, [("red.png", png_bytes((200, 10, 10)), "image/png")])
    assert not app.exception
    [error] = texts(app.error)
    assert error.startswith(f"Model 'half_plus_two' at {half_plus_two_url} cannot be used to classify images: ")
    assert "'x'" in error
