"""ClassifyPlan.request_body writes encoded images straight into the JSON; the bytes must be exactly what
protocol.predict_body (json.dumps) writes, whatever the input and signature names."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

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
