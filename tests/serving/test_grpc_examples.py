"""gRPC Classify, Regress and MultiInference on the `grpc_servers` process (tests/serving/conftest.py): tf.Example
inputs, TF Serving's results and model specs, and its errors for signatures that do not fit."""
from __future__ import annotations

import pytest
from tensorflow_serving.apis import classification_pb2, inference_pb2, model_pb2, regression_pb2

from tests.serving.grpc_support import RPC_TIMEOUT, failure

pytestmark = pytest.mark.slow  # the server loads TensorFlow models


def spec(name: str, version: int, signature: str) -> model_pb2.ModelSpec:
    result = model_pb2.ModelSpec(name=name, signature_name=signature)
    result.version.value = version
    return result


def examples_input(*xs: float) -> classification_pb2.ClassificationRequest:
    request = classification_pb2.ClassificationRequest()
    for x in xs:
        request.input.example_list.examples.add().features.feature["x"].float_list.value.append(x)
    return request


def test_classify_regress_and_multi_inference_on_example_signatures(grpc_servers):
    classify = examples_input(2.0, 4.0)
    classify.model_spec.name, classify.model_spec.version_label = "half_plus_two", "stable"
    classify.model_spec.signature_name = "classify_x_to_y"
    response = grpc_servers.predictions.Classify(classify, RPC_TIMEOUT)
    assert response.model_spec == spec("half_plus_two", 1, "classify_x_to_y")
    assert [[(c.label, c.score) for c in row.classes] for row in response.result.classifications] == [
        [("", 3.0)], [("", 4.0)]]

    regress = regression_pb2.RegressionRequest(input=classify.input)
    regress.model_spec.name, regress.model_spec.signature_name = "half_plus_two", "regress_x_to_y"
    response = grpc_servers.predictions.Regress(regress, RPC_TIMEOUT)
    assert response.model_spec == spec("half_plus_two", 2, "regress_x_to_y")
    assert [r.value for r in response.result.regressions] == [4.0, 5.0]

    multi = inference_pb2.MultiInferenceRequest(input=classify.input)
    for signature, method in (("regress_x_to_y", "regress"), ("classify_x_to_y", "classify")):
        task = multi.tasks.add(method_name=f"tensorflow/serving/{method}")
        task.model_spec.name, task.model_spec.signature_name = "half_plus_two", signature
        task.model_spec.version.value = 1
    response = grpc_servers.predictions.MultiInference(multi, RPC_TIMEOUT)
    assert [r.model_spec for r in response.results] == [spec("half_plus_two", 1, "regress_x_to_y"),
                                                       spec("half_plus_two", 1, "classify_x_to_y")]
    assert [r.value for r in response.results[0].regression_result.regressions] == [3.0, 4.0]
    assert [c.classes[0].score for c in response.results[1].classification_result.classifications] == [3.0, 4.0]


def test_examples_with_a_context_merge_under_each_example(grpc_servers):
    request = regression_pb2.RegressionRequest()
    request.model_spec.name, request.model_spec.signature_name = "half_plus_two", "regress_x_to_y"
    request.input.example_list_with_context.context.features.feature["x"].float_list.value.append(10.0)
    examples = request.input.example_list_with_context.examples
    examples.add()  # x from the context
    examples.add().features.feature["x"].float_list.value.append(2.0)  # its own x wins
    assert [r.value for r in grpc_servers.predictions.Regress(request, RPC_TIMEOUT).result.regressions] == [8.0, 4.0]


def classify_request(model: str, signature: str = "", *xs: float) -> classification_pb2.ClassificationRequest:
    request = examples_input(*xs)
    request.model_spec.name, request.model_spec.signature_name = model, signature
    return request


def multi_request(*tasks: tuple[str, str, str]) -> inference_pb2.MultiInferenceRequest:
    request = inference_pb2.MultiInferenceRequest(input=examples_input(2.0).input)
    for model, signature, method in tasks:
        task = request.tasks.add(method_name=method)
        task.model_spec.name, task.model_spec.signature_name = model, signature
    return request


CLASSIFY = "tensorflow/serving/classify"


@pytest.mark.parametrize("method, request_, code, details", [
    ("Classify", classify_request("half_plus_two", "nope", 1.0), "INVALID_ARGUMENT",
     "No signature was found with the name: nope"),
    ("Classify", classify_request("toolbox", "add", 1.0), "INVALID_ARGUMENT", "Expected one input Tensor."),
    ("Classify", classify_request("half_plus_two", "classify_x_to_y"), "INVALID_ARGUMENT", "Input is empty."),
    ("Classify", classify_request("nope", "", 1.0), "NOT_FOUND", "Servable not found for request: Latest(nope)"),
    ("Classify", classification_pb2.ClassificationRequest(), "INVALID_ARGUMENT", "Missing ModelSpec"),
    ("Regress", regression_pb2.RegressionRequest(model_spec={"name": "toolbox", "signature_name": "add"}),
     "INVALID_ARGUMENT", "Expected one input Tensor."),
    ("MultiInference", multi_request(("half_plus_two", "classify_x_to_y", CLASSIFY), ("toolbox", "x", CLASSIFY)),
     "INVALID_ARGUMENT", "All ModelSpecs in a MultiInferenceRequest must access the same model name."),
    ("MultiInference", multi_request(("half_plus_two", "classify_x_to_y", CLASSIFY),
                                     ("half_plus_two", "classify_x_to_y", CLASSIFY)),
     "INVALID_ARGUMENT", "Duplicate evaluation of signature: classify_x_to_y"),
    ("MultiInference", multi_request(("half_plus_two", "nope", CLASSIFY)), "INVALID_ARGUMENT",
     "Requested signature not found in model graph: nope"),
    ("MultiInference", multi_request(("half_plus_two", "", "tensorflow/serving/predict")), "UNIMPLEMENTED",
     "Unsupported signature method_name: tensorflow/serving/predict"),
    ("MultiInference", inference_pb2.MultiInferenceRequest(), "INVALID_ARGUMENT", "ModelSpec has no name specified."),
])
def test_example_api_errors(grpc_servers, method, request_, code, details):
    assert failure(getattr(grpc_servers.predictions, method), request_) == (code, details)


def test_a_predict_signature_asked_to_classify_names_what_is_missing(grpc_servers):
    code, details = failure(grpc_servers.predictions.Classify, classify_request("half_plus_two", "", 1.0))
    assert code == "INVALID_ARGUMENT"
    assert details.startswith('No classification inputs found in SignatureDef: inputs {\n  key: "x"\n')
    assert details.endswith('method_name: "tensorflow/serving/predict"\n')
