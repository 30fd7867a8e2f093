"""The embedded server serves every way teams export image classifiers, as TF Serving does (issue 19 §4).

Small SavedModels of each convention (tests/serving/model_builders.py) are served by `python -m serving`; their
metadata must read as TF Serving's would, and their predictions must equal the model called in-process on the same
tensor. Wrong values, dtypes and shapes get TF Serving's status and words (json_tensor.cc, predict_util.cc, and
TensorFlow's own Session messages, since TF Serving runs every SavedModel in a Session).
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from serving.errors import InvalidArgument, Unimplemented
from serving.examples import example_from_json
from serving.loader import load_version
from serving.tensors import decode_predict_request, json_to_array
from tests.serving.model_builders import CONVENTIONS, build_conventions, build_with_default
from tests.support import embedded_server

# ---- JSON values -> tensors, as TF Serving converts them (no server) ------------------------------------------


@pytest.mark.parametrize("values, dtype, expected, np_dtype", [
    ([16777217], types_pb2.DT_FLOAT, [16777216.0], np.float32),  # the nearest float, no error (since TF Serving 2.5)
    ([2**53 + 1], types_pb2.DT_DOUBLE, [9007199254740992.0], np.float64),
    ([1e39, -1e39], types_pb2.DT_FLOAT, [np.inf, -np.inf], np.float32),
    ([[0, 255], [1, 0.5]], types_pb2.DT_FLOAT, [[0.0, 255.0], [1.0, 0.5]], np.float32),  # integers are numbers too
    ([300, -1, 200, 2**31 - 1], types_pb2.DT_UINT8, [44, 255, 200, 255], np.uint8),  # int32, then narrowed
    ([200, -129], types_pb2.DT_INT8, [-56, 127], np.int8),
    ([70000], types_pb2.DT_INT16, [4464], np.int16),
    ([2**63 - 1], types_pb2.DT_INT64, [2**63 - 1], np.int64),
    ([2**64 - 1], types_pb2.DT_UINT64, [2**64 - 1], np.uint64),
])
def test_json_numbers_convert_as_tf_serving_converts_them(values, dtype, expected, np_dtype):
    array = json_to_array(values, dtype)
    assert array.dtype == np_dtype and array.tolist() == expected


@pytest.mark.parametrize("dtype, tf_dtype", [(types_pb2.DT_UINT8, tf.uint8), (types_pb2.DT_INT8, tf.int8),
                                             (types_pb2.DT_INT16, tf.int16)])
def test_narrow_integers_match_tensorflows_own_proto_conversion(dtype, tf_dtype):
    """TF Serving puts JSON integers in a TensorProto's int_val; Tensor::FromProto (here via parse_tensor) narrows."""
    values = [300, -1, 200, 70000, -129, 2**31 - 1]
    proto = tensor_pb2.TensorProto(dtype=dtype, int_val=values)
    proto.tensor_shape.dim.add().size = len(values)
    reference = tf.io.parse_tensor(proto.SerializeToString(), tf_dtype).numpy()
    assert json_to_array(values, dtype).tolist() == reference.tolist()


@pytest.mark.parametrize("values, dtype, error, message", [
    ([2**31], types_pb2.DT_UINT8, InvalidArgument,
     "JSON Value: 2147483648 Type: Number is not of expected type: uint8"),
    ([0.5], types_pb2.DT_UINT8, InvalidArgument, "JSON Value: 0.5 Type: Number is not of expected type: uint8"),
    ([2**63], types_pb2.DT_INT64, InvalidArgument,
     "JSON Value: 9223372036854775808 Type: Number is not of expected type: int64"),
    ([10**400], types_pb2.DT_FLOAT, InvalidArgument, "JSON Parse error: Number too big to be stored in double."),
    ([0.5], types_pb2.DT_HALF, Unimplemented, "Conversion of JSON Value: 0.5 to type: half"),
    ([0.5], types_pb2.DT_BFLOAT16, Unimplemented, "Conversion of JSON Value: 0.5 to type: bfloat16"),
])
def test_values_a_dtype_cannot_take_get_tf_servings_error(values, dtype, error, message):
    with pytest.raises(error) as raised:
        json_to_array(values, dtype)
    assert raised.value.message == message


def test_a_row_error_keeps_its_own_code_inside_the_invalid_argument():
    half = meta_graph_pb2.TensorInfo(name="pixels:0", dtype=types_pb2.DT_HALF)
    with pytest.raises(InvalidArgument) as raised:
        decode_predict_request({"instances": [0.5]}, {"pixels": half}, "")
    assert raised.value.message == ("Failed to process element: 0 of 'instances' list. Error: UNIMPLEMENTED: "
                                    "Conversion of JSON Value: 0.5 to type: half")


def test_example_numbers_become_features_as_in_tf_serving():
    example = example_from_json({"big": -2**63 - 1, "huge": 2**64, "wide": 1e39, "n": 3})
    features = example.features.feature
    assert list(features["big"].float_list.value) == [float(np.float32(-2**63 - 1))]  # a double in rapidjson
    assert list(features["huge"].float_list.value) == [float(np.float32(2**64))]
    assert list(features["wide"].float_list.value) == [np.inf]
    assert list(features["n"].int64_list.value) == [3]
    with pytest.raises(InvalidArgument) as raised:
        example_from_json({"x": 2**63})
    assert raised.value.message == "Feature: x has uint64_t element. Only int64_t is supported."


# ---- the conventions, served ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def conventions(tmp_path_factory):
    """(models root, name -> in-process reference) for every convention in model_builders.CONVENTIONS."""
    root = tmp_path_factory.mktemp("conventions")
    return root, build_conventions(root)


@pytest.fixture(scope="module")
def url(conventions, tmp_path_factory) -> str:
    root, _ = conventions
    entries = "\n".join(f'  config {{ name: "{name}" base_path: "{root / name}" model_platform: "tensorflow" }}'
                        for name in CONVENTIONS)
    config = tmp_path_factory.mktemp("conventions-config") / "models.config"
    config.write_text(f"model_config_list {{\n{entries}\n}}\n")
    with embedded_server([f"--model_config_file={config}"], wait_for_models={n: 1 for n in CONVENTIONS}) as base:
        yield base


def _post(url: str, model: str, body) -> requests.Response:
    return requests.post(f"{url}/v1/models/{model}:predict", json=body, timeout=60)


def _shape(dims: list[int]) -> dict:
    return {"dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False}


def _tensor(name: str, dtype: str, dims: list[int]) -> dict:
    return {"dtype": dtype, "tensor_shape": _shape(dims), "name": name}


INIT_OP = {"inputs": {}, "outputs": {"__saved_model_init_op": {
    "dtype": "DT_INVALID", "tensor_shape": {"dim": [], "unknown_rank": True}, "name": "NoOp"}},
    "method_name": "", "defaults": {}}


def _predict_signature(inputs: dict, outputs: dict) -> dict:
    return {"inputs": inputs, "outputs": outputs, "method_name": "tensorflow/serving/predict", "defaults": {}}


def _default(input_key: str, dtype: str, dims: list[int], outputs: dict) -> dict:
    """A tf.saved_model.save signature: placeholder serving_default_<key>, outputs from StatefulPartitionedCall."""
    return {"__saved_model_init_op": INIT_OP, "serving_default": _predict_signature(
        {input_key: _tensor(f"serving_default_{input_key}:0", dtype, dims)},
        {key: _tensor(f"StatefulPartitionedCall:{index}", out_dtype, out_dims)
         for index, (key, (out_dtype, out_dims)) in enumerate(sorted(outputs.items()))})}


KERAS3_EXPORT = {
    "__saved_model_init_op": INIT_OP,
    "serve": _predict_signature({"pixels": _tensor("serve_pixels:0", "DT_FLOAT", [-1, 32, 32, 3])},
                                {"output_0": _tensor("StatefulPartitionedCall:0", "DT_FLOAT", [-1, 3])}),
    "serving_default": _predict_signature(
        {"pixels": _tensor("serving_default_pixels:0", "DT_FLOAT", [-1, 32, 32, 3])},
        {"output_0": _tensor("StatefulPartitionedCall_1:0", "DT_FLOAT", [-1, 3])}),
}
EXPECTED_SIGNATURES = {
    "tutorial_sigmoid": _default("mobilenetv2_1.00_128_input", "DT_FLOAT", [-1, 128, 128, 3],
                                 {"dense": ("DT_FLOAT", [-1, 1])}),
    "keras2_logits_1001": _default("input_1", "DT_FLOAT", [-1, 32, 32, 3], {"logits": ("DT_FLOAT", [-1, 1001])}),
    "uint8": _default("images", "DT_UINT8", [-1, 32, 32, 3], {"probabilities": ("DT_FLOAT", [-1, 3])}),
    "dynamic": _default("image", "DT_FLOAT", [-1, -1, -1, 3], {"probabilities": ("DT_FLOAT", [-1, 3])}),
    "nchw": _default("input", "DT_FLOAT", [-1, 3, 24, 24], {"probabilities": ("DT_FLOAT", [-1, 3])}),
    "half": _default("pixels", "DT_HALF", [-1, 8, 8, 3], {"probabilities": ("DT_FLOAT", [-1, 3])}),
    "double": _default("pixels", "DT_DOUBLE", [-1, 8, 8, 3], {"probabilities": ("DT_DOUBLE", [-1, 3])}),
    "keras3_export": KERAS3_EXPORT,
    "keras3_saved_model": _default("inputs", "DT_FLOAT", [-1, 32, 32, 3], {"output_0": ("DT_FLOAT", [-1, 3])}),
}


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(CONVENTIONS))
def test_metadata_reports_each_signature_as_tf_serving_does(url, model):
    reply = requests.get(f"{url}/v1/models/{model}/metadata", timeout=30)
    assert reply.status_code == 200
    assert reply.json() == {"model_spec": {"name": model, "signature_name": "", "version": "1"},
                            "metadata": {"signature_def": {"signature_def": EXPECTED_SIGNATURES[model]}}}


def _batch(model: str, rng: np.random.RandomState, size: tuple[int, int] = (20, 30)) -> np.ndarray:
    """Two random instances for the model's serving_default input (dynamic height and width: `size`)."""
    (info,) = EXPECTED_SIGNATURES[model]["serving_default"]["inputs"].values()
    dims = [int(d["size"]) for d in info["tensor_shape"]["dim"]]
    shape = [2] + [size[i - 1] if d == -1 and i in (1, 2) else d for i, d in enumerate(dims) if i > 0]
    if info["dtype"] == "DT_UINT8":
        return rng.randint(0, 256, shape).astype(np.uint8)
    if model.startswith("keras3"):  # [0,255] pixels (Rescaling(1/255) inside)
        return rng.uniform(0, 255, shape).astype(np.float32)
    return rng.uniform(-1, 1, shape).astype(np.float64 if info["dtype"] == "DT_DOUBLE" else np.float32)


def _assert_answers_equal(reply: requests.Response, expected: dict[str, np.ndarray], exact: bool) -> None:
    assert reply.status_code == 200, reply.text
    (key, want), = expected.items()
    got = np.asarray(reply.json()["predictions"], dtype=want.dtype)
    assert got.shape == want.shape
    if exact:
        assert np.array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(set(CONVENTIONS) - {"half"}))  # REST refuses half: see below
def test_predictions_equal_the_model_called_in_process(url, conventions, model):
    _, references = conventions
    batch = _batch(model, np.random.RandomState(sorted(CONVENTIONS).index(model)))
    reply = _post(url, model, {"instances": batch.tolist()})
    _assert_answers_equal(reply, references[model](batch), exact=batch.dtype == np.uint8)


@pytest.mark.slow
def test_dynamic_size_input_takes_any_image_size(url, conventions):
    _, references = conventions
    for size in [(17, 41), (64, 9)]:
        batch = _batch("dynamic", np.random.RandomState(size[0]), size)
        reply = _post(url, "dynamic", {"inputs": batch.tolist()})  # columnar, this time
        assert reply.status_code == 200, reply.text
        got = np.asarray(reply.json()["outputs"], np.float32)
        np.testing.assert_allclose(got, references["dynamic"](batch)["probabilities"], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_uint8_input_takes_json_integers_narrowed_as_tf_serving_does(url, conventions):
    """300 arrives as 44 and -1 as 255 (TF Serving carries them as int32 and narrows): a 200, not an error."""
    _, references = conventions
    batch = _batch("uint8", np.random.RandomState(5))
    sent = batch.astype(np.int64)
    sent[0, 0, 0] = [300, -1, 511]
    narrowed = sent.astype(np.uint8)
    assert narrowed[0, 0, 0].tolist() == [44, 255, 255]
    _assert_answers_equal(_post(url, "uint8", {"instances": sent.tolist()}), references["uint8"](narrowed), exact=True)


@pytest.mark.slow
def test_float_input_takes_json_integers(url, conventions):
    _, references = conventions
    batch = np.random.RandomState(6).randint(0, 2, (1, 32, 32, 3))  # 0/1 pixels, written as JSON integers
    reply = _post(url, "keras2_logits_1001", {"instances": batch.tolist()})
    _assert_answers_equal(reply, references["keras2_logits_1001"](batch.astype(np.float32)), exact=False)


@pytest.mark.slow
def test_tutorial_signature_is_fed_loosely_like_tf_serving(url):
    """TF Serving feeds the tensor to the graph as it is: a 64×64 image runs through the pooling model."""
    reply = _post(url, "tutorial_sigmoid", {"instances": np.zeros((1, 64, 64, 3)).tolist()})
    assert reply.status_code == 200
    (score,), = reply.json()["predictions"]
    assert 0.0 < score < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("model, body, status, error", [
    ("uint8", {"instances": [[[[0.5, 0, 0]]]]}, 400,
     "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
     "JSON Value: 0.5 Type: Number is not of expected type: uint8"),
    ("uint8", {"inputs": [[[[2**31, 0, 0]]]]}, 400,
     "JSON Value: 2147483648 Type: Number is not of expected type: uint8"),
    ("half", {"inputs": [[[[0.5, 0, 0]]]]}, 501, "Conversion of JSON Value: 0.5 to type: half"),
    ("half", {"instances": [[[[0.5, 0, 0]]]]}, 400,
     "Failed to process element: 0 of 'instances' list. Error: UNIMPLEMENTED: "
     "Conversion of JSON Value: 0.5 to type: half"),
    ("dynamic", {"instances": [np.zeros((4, 5, 3)).tolist(), np.zeros((5, 4, 3)).tolist()]}, 400,
     "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting shape [4,5,3] but got: "
     "[5,4,3]"),
    ("tutorial_sigmoid", {"instances": [{"b64": "AAAA"}]}, 400,
     "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
     'JSON Value: {\n    "b64": "AAAA"\n} Type: Object is not of expected type: float'),
])
def test_values_the_input_cannot_take_get_tf_servings_status_and_words(url, model, body, status, error):
    reply = _post(url, model, body)
    assert (reply.status_code, reply.json()) == (status, {"error": error})


@pytest.mark.slow
def test_a_shape_the_graph_cannot_take_fails_in_tensorflow_with_its_words(url):
    """NHWC pixels sent to the NCHW model: the graph's Reshape refuses them, as it does under TF Serving."""
    reply = _post(url, "nchw", {"instances": np.zeros((1, 24, 24, 3)).tolist()})
    assert reply.status_code == 400
    assert re.fullmatch(r"Input to reshape is a tensor with 192 values, but the requested shape requires a multiple "
                        r"of 1152\n\t \[\[\{\{function_node __inference_outputs_\d+\}\}\{\{node Reshape\}\}\]\]",
                        reply.json()["error"])


# ---- the servable on its own: what any transport (REST, gRPC) hands it ------------------------------------------
@pytest.mark.slow
def test_tensors_are_checked_like_a_tf_serving_predict_request(conventions):
    root, references = conventions
    servable = load_version("uint8", 1, root / "uint8" / "1")
    pixels = np.zeros((1, 32, 32, 3), np.uint8)
    cases = [
        ({"images": pixels.astype(np.float32)}, "Expects arg[0] to be uint8 but float is provided"),
        ({"images": pixels, "extra": pixels}, "input size does not match signature: 2!=1 len({extra,images}) != "
                                              "len({images}). Sent extra: {extra}. Missing but required: {}."),
        ({}, "input size does not match signature: 0!=1 len({}) != len({images}). Sent extra: {}. "
             "Missing but required: {images}."),
        ({"pics": pixels}, "input tensor alias not found in signature: pics. Inputs expected to be in the set "
                           "{images}."),
    ]
    for inputs, message in cases:
        with pytest.raises(InvalidArgument) as raised:
            servable.run("serving_default", inputs)
        assert raised.value.message == message
    assert np.array_equal(servable.run("", {"images": pixels})["probabilities"],
                          references["uint8"](pixels)["probabilities"])


@pytest.mark.slow
def test_an_absent_input_with_a_default_gets_the_signatures_default(tmp_path):
    build_with_default(tmp_path / "1")
    servable = load_version("scaler", 1, tmp_path / "1")
    x = np.array([1.5, -2.0], np.float32)
    assert servable.run("", {"x": x})["y"].tolist() == [3.0, -4.0]
    assert servable.run("", {"x": x, "scale": np.float32(3.0)})["y"].tolist() == [4.5, -6.0]
    with pytest.raises(InvalidArgument) as raised:
        servable.run("", {"scale": np.float32(3.0)})
    assert raised.value.message == ("input size does not match signature: 1!=2 len({scale}) != len({scale,x}). "
                                    "Sent extra: {}. Missing but required: {x}.")


@pytest.mark.slow
def test_half_tensors_run_when_a_transport_sends_them(conventions):
    """REST cannot carry DT_HALF (TF Serving's JSON has no half), a TensorProto can: the servable runs them."""
    root, references = conventions
    servable = load_version("half", 1, root / "half" / "1")
    pixels = np.random.RandomState(7).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float16)
    assert np.array_equal(servable.run("", {"pixels": pixels})["probabilities"],
                          references["half"](pixels)["probabilities"])


@pytest.mark.slow
def test_a_keras3_model_saved_with_tf_saved_model_save_is_flagged(conventions):
    """TF Serving restores variables only through the SavedModel's restore op, which leaves these unset; a
    tf.compat.v1 Session load (TF Serving's loader, from Python) shows the failure every request would get there."""
    root, _ = conventions
    servable = load_version("keras3_saved_model", 1, root / "keras3_saved_model" / "1")
    assert servable.tf_serving_caveat == (
        "TF Serving cannot run this SavedModel: its restore op never sets 4 variable(s) that its signatures read "
        '(conv/bias, conv/kernel, dense/bias, ...), so TF Serving answers every request with FAILED_PRECONDITION '
        '"Could not find variable <name>". A Keras 3 model saved with tf.saved_model.save does this; export it '
        "with model.export(). Served here through its TF2 functions.")
    assert load_version("keras3_export", 1, root / "keras3_export" / "1").tf_serving_caveat == ""
    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(root / "keras3_saved_model" / "1"))
        signature = meta_graph.signature_def["serving_default"]
        unset = "Could not find variable (conv|dense)/(bias|kernel)"
        with pytest.raises(tf.errors.FailedPreconditionError, match=unset):
            session.run(signature.outputs["output_0"].name,
                        {signature.inputs["inputs"].name: np.zeros((1, 32, 32, 3), np.float32)})
