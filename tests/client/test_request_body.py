"""ClassifyPlan.request_body writes encoded images straight into the JSON; the bytes must be exactly what
protocol.predict_body (protocol.encode_json) writes, whatever the input and signature names. Pixels travel at
full float32 precision."""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from PIL import Image

from client.images import pixels_for_model
from client.plan import ClassifyPlan
from client.protocol import SignatureSpec, TensorSpec, predict_body


def plan(input_name: str, signature_name: str, dtype: str = "DT_STRING", shape=(-1,)) -> ClassifyPlan:
    return ClassifyPlan.from_signature(SignatureSpec(
        signature_name, "tensorflow/serving/predict",
        inputs={input_name: TensorSpec(input_name, dtype, shape)},
        outputs={"probabilities": TensorSpec("probabilities", "DT_FLOAT", (-1, 2)),
                 "classes": TensorSpec("classes", "DT_STRING", (-1, 2))}))


@pytest.mark.parametrize("input_name, signature_name", [
    ("image_bytes", "serving_default"), ('we"ird\\name', "sig\u00e9 \u2603"), ("x", "s/</script>")])
@pytest.mark.parametrize("count", [1, 2, 16])
def test_encoded_images_give_the_same_bytes_as_predict_body(input_name, signature_name, count):
    encoded = plan(input_name, signature_name)
    instances = [{input_name: os.urandom(n * 37 + 1)} for n in range(count)]
    body = encoded.request_body(instances)
    assert body == predict_body(instances=instances, signature_name=signature_name)
    assert len(json.loads(body)["instances"]) == count


def test_pixels_go_through_predict_body():
    pixels = plan("images", "predict_images", "DT_FLOAT", (-1, 2, 2, 3))
    instances = [{"images": np.full((2, 2, 3), 0.5, dtype=np.float32)}]
    assert pixels.request_body(instances) == predict_body(instances=instances, signature_name="predict_images")
    assert json.loads(pixels.request_body(instances))["instances"][0]["images"][1][1] == [0.5, 0.5, 0.5]


def test_pixels_are_sent_at_full_float32_precision():
    pixels = plan("images", "predict_images", "DT_FLOAT", (-1, 24, 24, 3))
    photo = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(photo, "PNG")
    instance = pixels.instance("photo.png", photo.getvalue())
    expected = pixels_for_model("photo.png", photo.getvalue(), height=24, width=24)
    assert instance["images"].dtype == np.float32 and np.array_equal(instance["images"], expected)
    sent = np.array(json.loads(pixels.request_body([instance]))["instances"][0]["images"], dtype=np.float32)
    assert np.array_equal(sent.view(np.uint32), expected.view(np.uint32))  # bit for bit: no rounding


def test_non_finite_numbers_and_the_float32_maximum_are_written_as_tf_serving_reads_them():
    values = np.array([np.nan, np.inf, -np.inf, 1.5, 0.1], np.float32)
    assert predict_body(instances=[values]) == b'{"instances":[[NaN,Infinity,-Infinity,1.5,0.10000000149011612]]}'
    assert predict_body(instances=[values[3:]]) == b'{"instances":[[1.5,0.1]]}'  # shortest float32 text
    assert predict_body(instances=[values[3:], None]) == b'{"instances":[[1.5,0.10000000149011612],null]}'
    # 3.4028235e38, the float32 maximum's shortest text, is above it as a double: the exact double goes instead.
    top = np.array([np.finfo(np.float32).max, 0.1], np.float32)
    assert predict_body(inputs=top) == b'{"inputs":[3.4028234663852886e+38,0.10000000149011612]}'
    assert np.array_equal(np.array(json.loads(predict_body(inputs=top))["inputs"], np.float32), top)
