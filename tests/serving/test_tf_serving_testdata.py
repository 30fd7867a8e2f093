"""TF Serving's own REST expectations, on models built like its testdata (TF1 graphs, zero-padded folders).

The requests and the exact responses are those of tensorflow/serving's `http_rest_api_handler_test.cc`
(model `saved_model_half_plus_two_2_versions`, version 123, label `Version_Label`) and
`tensorflow_model_server_test.py` (`saved_model_half_plus_two_cpu` served as `default`; `half_plus_three`).
"""
from __future__ import annotations

import json

import pytest
import requests

from tests.serving.model_builders import build_tf_serving_testdata
from tests.support import embedded_server

pytestmark = pytest.mark.slow   # each module starts the embedded server with TensorFlow models

TWO_VERSIONS = "saved_model_half_plus_two_2_versions"


@pytest.fixture(scope="module")
def testdata_url(tmp_path_factory):
    root = build_tf_serving_testdata(tmp_path_factory.mktemp("tf-serving-testdata"))
    config = root / "models.config"
    config.write_text(f"""model_config_list {{
  config {{ name: "{TWO_VERSIONS}" base_path: "{root / TWO_VERSIONS}" model_platform: "tensorflow"
           model_version_policy {{ specific {{ versions: 123 }} }}
           version_labels {{ key: "Version_Label" value: 123 }} }}
  config {{ name: "default" base_path: "{root / 'saved_model_half_plus_two_cpu'}" model_platform: "tensorflow" }}
  config {{ name: "half_plus_three" base_path: "{root / 'saved_model_half_plus_three'}" }}
}}
""")
    with embedded_server([f"--model_config_file={config}"],
                         wait_for_models={TWO_VERSIONS: 1, "default": 1, "half_plus_three": 1}) as url:
        yield url


def call(url: str, path: str, body=None) -> requests.Response:
    if body is None:
        return requests.get(f"{url}/v1/models/{path}", timeout=30)
    data = body if isinstance(body, str) else json.dumps(body)
    return requests.post(f"{url}/v1/models/{path}", data=data, timeout=30)


# ---- http_rest_api_handler_test.cc ----------------------------------------------------------------------
@pytest.mark.parametrize("path, body, expected", [
    (f"{TWO_VERSIONS}:predict", {"instances": [[1.0, 2.0], [3.0, 4.0]]}, {"predictions": [[2.5, 3.0], [3.5, 4.0]]}),
    (f"{TWO_VERSIONS}/versions/123:predict", {"instances": [1.0, 2.0]}, {"predictions": [2.5, 3.0]}),
    (f"{TWO_VERSIONS}/labels/Version_Label:predict", {"instances": [1.0, 2.0]}, {"predictions": [2.5, 3.0]}),
    (f"{TWO_VERSIONS}/versions/123:predict", {"signature_name": "serving_default", "instances": [3.0, 4.0]},
     {"predictions": [3.5, 4.0]}),
    (f"{TWO_VERSIONS}/versions/123:predict", {"signature_name": "serving_default", "inputs": [3.0, 4.0]},
     {"outputs": [3.5, 4.0]}),
    (f"{TWO_VERSIONS}:regress", {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]}, {"results": [42]}),
    (f"{TWO_VERSIONS}/versions/123:regress", {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]},
     {"results": [42]}),
    (f"{TWO_VERSIONS}/labels/Version_Label:regress", {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]},
     {"results": [42]}),
    (f"{TWO_VERSIONS}:classify", {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]},
     {"results": [[["", 12]]]}),
    (f"{TWO_VERSIONS}/labels/Version_Label:classify", {"signature_name": "classify_x_to_y", "examples": [{"x": 10.0}]},
     {"results": [[["", 7]]]}),
])
def test_handler_test_predict_regress_classify(testdata_url, path, body, expected):
    reply = call(testdata_url, path, body)
    assert (reply.status_code, reply.json()) == (200, expected)


@pytest.mark.parametrize("path, status, error", [
    ("foo:predict", 404, "Servable not found for request: Latest(foo)"),
    ("foo/versions/50:predict", 404, "Servable not found for request: Specific(foo, 50)"),
    (f"{TWO_VERSIONS}99:predict", 404, f"Servable not found for request: Latest({TWO_VERSIONS}99)"),
    (f"{TWO_VERSIONS}/versions/124:predict", 404, f"Servable not found for request: Specific({TWO_VERSIONS}, 124)"),
])
def test_handler_test_model_name_version_errors(testdata_url, path, status, error):
    reply = call(testdata_url, path, {"instances": [1]})
    assert (reply.status_code, reply.json()) == (status, {"error": error})


@pytest.mark.parametrize("path, body, error", [
    (":predict", "", "JSON Parse error: The document is empty"),
    (":predict", "instances = [1, 2]", "JSON Parse error: Invalid value. at offset: 0"),
    (":predict", '{ "instances": ["x", "y"] }', "Failed to process element: 0 of 'instances' list. Error: "
                                                "INVALID_ARGUMENT: JSON Value: \"x\" Type: String is not of expected "
                                                "type: float"),
    ("/labels/nope:predict", '{ "instances": ["x", "y"] }', "Unrecognized servable version label: nope"),
    (":predict", '{ "signature_name": 100 }', "JSON Value: {\n    \"signature_name\": 100\n} not formatted correctly. "
                                              "'signature_name' key must be a string value."),
])
def test_handler_test_request_errors(testdata_url, path, body, error):
    reply = call(testdata_url, TWO_VERSIONS + path, body)
    assert (reply.status_code, reply.json()) == (400, {"error": error})


def status_of(version: str) -> dict:
    return {"model_version_status": [{"version": version, "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}]}


@pytest.mark.parametrize("suffix", ["", "/versions/123", "/labels/Version_Label"])
def test_handler_test_status_from_a_zero_padded_folder(testdata_url, suffix):
    reply = call(testdata_url, TWO_VERSIONS + suffix)
    assert (reply.status_code, reply.json()) == (200, status_of("123"))
    assert reply.headers["Content-Type"] == "application/json"


# ---- tensorflow_model_server_test.py ----------------------------------------------------------------------
def shape(*dims: int) -> dict:
    return {"dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False}


def tensor(name: str, dtype: str, tensor_shape: dict) -> dict:
    return {"dtype": dtype, "tensor_shape": tensor_shape, "name": name}


EXAMPLES = tensor("tf_example:0", "DT_STRING", {"dim": [], "unknown_rank": True})


def signature(inputs: dict, outputs: dict, method: str) -> dict:
    return {"inputs": inputs, "outputs": outputs, "method_name": f"tensorflow/serving/{method}", "defaults": {}}


HALF_PLUS_TWO_METADATA = {  # testdata/half_plus_two_model_metadata.json
    "model_spec": {"name": "default", "signature_name": "", "version": "123"},
    "metadata": {"signature_def": {"signature_def": {
        "regress_x2_to_y3": signature({"inputs": tensor("x2:0", "DT_FLOAT", shape(-1, 1))},
                                      {"outputs": tensor("y3:0", "DT_FLOAT", shape(-1, 1))}, "regress"),
        "serving_default": signature({"x": tensor("x:0", "DT_FLOAT", shape(-1, 1))},
                                     {"y": tensor("y:0", "DT_FLOAT", shape(-1, 1))}, "predict"),
        "classify_x_to_y": signature({"inputs": EXAMPLES}, {"scores": tensor("y:0", "DT_FLOAT", shape(-1, 1))},
                                     "classify"),
        "regress_x_to_y2": signature({"inputs": EXAMPLES}, {"outputs": tensor("y2:0", "DT_FLOAT", shape(-1, 1))},
                                     "regress"),
        "regress_x_to_y": signature({"inputs": EXAMPLES}, {"outputs": tensor("y:0", "DT_FLOAT", shape(-1, 1))},
                                    "regress"),
    }}},
}


@pytest.mark.parametrize("path, body, expected", [
    ("default:classify", {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}, {"results": [[["", 3.0]]]}),
    ("default:regress", {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}, {"results": [3.0]}),
    ("default:predict", {"instances": [2.0, 3.0, 4.0]}, {"predictions": [3.0, 3.5, 4.0]}),
    ("default:predict", {"inputs": [2.0, 3.0, 4.0]}, {"outputs": [3.0, 3.5, 4.0]}),
    ("half_plus_three:regress", {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}, {"results": [4.0]}),
    ("default:regress", {"signature_name": "regress_x_to_y2", "examples": [{"x": 2.0}]}, {"results": [4.0]}),
])
def test_model_server_test_rest_calls(testdata_url, path, body, expected):
    reply = call(testdata_url, path, body)
    assert (reply.status_code, reply.json()) == (200, expected)


def test_model_server_test_status_and_metadata(testdata_url):
    reply = call(testdata_url, "default")
    assert (reply.status_code, reply.json()) == (200, status_of("123"))
    reply = call(testdata_url, "default/metadata")
    assert (reply.status_code, reply.json()) == (200, HALF_PLUS_TWO_METADATA)


def test_shapes_are_left_to_tensorflow(testdata_url):
    # x is declared [-1,1], but like TF Serving the server feeds whatever the request holds and lets the graph
    # decide: y = a*x + b takes any float shape.
    reply = call(testdata_url, "default:predict", {"instances": [[[1.0]], [[2.0]]]})
    assert (reply.status_code, reply.json()) == (200, {"predictions": [[[2.5]], [[3.0]]]})


def test_what_tensorflow_refuses_is_400_with_tensorflows_message(testdata_url):
    reply = call(testdata_url, "default:classify", {"signature_name": "classify_x_to_y", "examples": [{"x2": 1.0}]})
    assert reply.status_code == 400
    assert reply.json() == {"error": "Name: <unknown>, Feature: x (data type: float) is required but could not be "
                                    "found.\n\t [[{{node ParseExample/ParseExampleV2}}]]"}
    assert "Traceback" not in reply.text and "File " not in reply.text
