"""The pets model over both APIs of one server: real photos, as pixels (predict_images) and as encoded bytes
(serving_default), in both versions; gRPC's answers equal REST's bit for bit (float32) and string for string."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import requests
from PIL import Image

from tests.serving.grpc_support import RPC_TIMEOUT, outputs_of, predict_request, rest_and_grpc_server
from tests.support import PETS_CONFIG

pytestmark = pytest.mark.slow  # loads both pets versions

SIZES = {1: 128, 2: 224}  # predict_images takes [-1, size, size, 3] per version (docs/pets.md)
FLOAT_OUTPUTS = ("probabilities", "imagenet_top5_scores")
STRING_OUTPUTS = ("classes", "imagenet_top5_labels")


@pytest.fixture(scope="module")
def servers():
    if not PETS_CONFIG.exists():
        pytest.fail(f"{PETS_CONFIG} is missing: run `python -m pets.build` (make test does)")
    with rest_and_grpc_server([f"--model_config_file={PETS_CONFIG}"], wait_for_models={"pets": 2}) as running:
        yield running


@pytest.fixture(scope="module")
def photos(shared_images) -> list[bytes]:
    return [(shared_images / kind / sorted(p.name for p in (shared_images / kind).glob("*.jpg"))[0]).read_bytes()
            for kind in ("cat", "dog")]


def pixels(jpeg: bytes, size: int) -> np.ndarray:
    """The preprocessing the pets signatures expect, near enough for an input: resize, (p - 127) / 128."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB").resize((size, size), Image.BILINEAR)
    return (np.asarray(image, np.float32) - np.float32(127)) / np.float32(128)


def rest_outputs(url: str, version: int, body: dict) -> dict[str, np.ndarray]:
    reply = requests.post(f"{url}/v1/models/pets/versions/{version}:predict", json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    predictions = reply.json()["predictions"]
    rows = {name: [p[name] for p in predictions] for name in FLOAT_OUTPUTS + STRING_OUTPUTS}
    return {name: np.array(values, np.float32 if name in FLOAT_OUTPUTS else object) for name, values in rows.items()}


def assert_same(over_grpc: dict[str, np.ndarray], over_rest: dict[str, np.ndarray]) -> None:
    for name in FLOAT_OUTPUTS:
        assert over_grpc[name].dtype == np.float32
        assert over_grpc[name].tobytes() == over_rest[name].tobytes(), name
    for name in STRING_OUTPUTS:
        assert [v.decode() for v in over_grpc[name].ravel()] == list(over_rest[name].ravel()), name


@pytest.mark.parametrize("version", [1, 2])
def test_pixels_through_predict_images_match_rest_bit_for_bit(servers, photos, version):
    images = np.stack([pixels(photo, SIZES[version]) for photo in photos])
    response = servers.predictions.Predict(
        predict_request("pets", {"images": images}, signature="predict_images", version=version), RPC_TIMEOUT)
    assert response.outputs["probabilities"].tensor_content  # raw bytes out
    over_grpc = outputs_of(response)
    assert over_grpc["probabilities"].shape == (2, 3)
    over_rest = rest_outputs(servers.rest, version, {"signature_name": "predict_images",
                                                     "instances": images.tolist()})
    assert_same(over_grpc, over_rest)


@pytest.mark.parametrize("version", [1, 2])
def test_encoded_photos_through_serving_default_match_rest_bit_for_bit(servers, photos, version):
    encoded = np.array(photos, dtype=object)
    response = servers.predictions.Predict(predict_request("pets", {"image_bytes": encoded}, version=version),
                                           RPC_TIMEOUT)
    over_grpc = outputs_of(response)
    assert [list(map(bytes.decode, row)) for row in over_grpc["classes"]] == [["cat", "dog", "other"]] * 2
    over_rest = rest_outputs(servers.rest, version, {"instances": [
        {"image_bytes": {"b64": base64.b64encode(photo).decode()}} for photo in photos]})
    assert_same(over_grpc, over_rest)
