"""A real non-image model (half_plus_two: one float input x [-1] -> y) on the embedded server: every client
path that classifies gives a typed SignatureError naming the input, and the dashboard explains it."""
from __future__ import annotations

import pytest

from client import SignatureError, TFServingClient
from client.cli import main as cli_main
from dashboard.server.explain import explain
from tests.client.conftest import png_bytes
from tests.support import embedded_server

pytestmark = pytest.mark.slow

IMAGE = [("cat.png", png_bytes((250, 5, 5)))]
NEEDS = ("an image classifier needs one input, DT_STRING [-1] (encoded images) or a float or integer "
         "[-1, H, W, C] / [-1, C, H, W] (pixels)")


@pytest.fixture(scope="module")
def half_plus_two_url(tmp_path_factory):
    from tests.serving.model_builders import build_half_plus_two  # imports TensorFlow: only when this runs
    root = tmp_path_factory.mktemp("half_plus_two")
    build_half_plus_two(root / "1", offset=2.0)
    with embedded_server(["--model_name=half_plus_two", f"--model_base_path={root}"],
                         wait_for_models={"half_plus_two": 1}) as url:
        yield url


@pytest.fixture
def tfs(half_plus_two_url):
    with TFServingClient(half_plus_two_url, "half_plus_two", timeout=30, retries=0) as client:
        yield client


def test_it_is_a_real_model_that_answers_predict(tfs):
    assert tfs.predict(instances=[1.0, 2.0]).outputs == [2.5, 3.0]


@pytest.mark.parametrize("classify", [
    lambda tfs: tfs.classify(IMAGE),
    lambda tfs: next(tfs.iter_classify(IMAGE)),
    lambda tfs: tfs.plan(),
    lambda tfs: tfs.classify(IMAGE, version=1),
])
def test_classifying_with_the_default_signature_is_a_signature_error(tfs, half_plus_two_url, classify):
    with pytest.raises(SignatureError) as caught:
        classify(tfs)
    exc = caught.value
    assert exc.error == f"signature 'serving_default' cannot classify images: input 'x' is DT_FLOAT [-1]; {NEEDS}"
    assert (exc.signature, exc.method, exc.url, exc.status) == (
        "serving_default", "GET", f"{half_plus_two_url}/v1/models/half_plus_two/versions/1/metadata", None)
    assert explain(exc, half_plus_two_url, "half_plus_two") == (
        f"Model 'half_plus_two' at {half_plus_two_url} cannot be used to classify images: {exc.error}. Choose "
        "another signature or model (the Models page lists every signature's inputs and outputs).")


def test_a_string_input_signature_without_class_names_is_a_signature_error(tfs):
    with pytest.raises(SignatureError) as caught:
        tfs.classify(IMAGE, signature_name="classify_x_to_y")
    assert caught.value.error == (
        "signature 'classify_x_to_y' cannot classify images: no string output of shape [-1, 1] names the classes; "
        "give the class names (a profile's class_names, labels=[...] or SignatureConfig.class_names)")


def test_an_unknown_signature_lists_the_real_ones(tfs):
    with pytest.raises(SignatureError) as caught:
        tfs.classify(IMAGE, signature_name="nope")
    assert caught.value.error == ("model 'half_plus_two' version 1 has no signature 'nope'; it has "
                                  "['classify_x_to_y', 'regress_x_to_y', 'serving_default']")
    with pytest.raises(SignatureError):
        tfs.metadata().signature("nope")


def test_the_cli_reports_it_as_an_unusable_model(half_plus_two_url, tmp_path, capsys):
    image = tmp_path / "cat.png"
    image.write_bytes(IMAGE[0][1])
    code = cli_main(["classify", str(image), "--url", half_plus_two_url, "--model", "half_plus_two",
                     "--no-progress"])
    assert code == 3
    assert "SignatureError" in capsys.readouterr().err
