"""gRPC Classify, Regress and MultiInference: tf.Example inputs in, ClassificationResult/RegressionResult out.

As TF Serving by default (`--enable_signature_method_name_check=false`), a signature qualifies by its shape, not
its method_name: one input keyed `inputs`, and `classes`/`scores` outputs (classify) or one `outputs` output
(regress); so native TF2 exports, whose signatures all say tensorflow/serving/predict, classify and regress too.
A model without such a signature gets TF Serving's INVALID_ARGUMENT naming what is missing.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    input_pb2,
    model_pb2,
    regression_pb2,
)

from serving.errors import InvalidArgument, Unimplemented
from serving.grpc_handlers import Runner, require_model_spec, resolve, response_model_spec, signature_text
from serving.loader import DEFAULT_SIGNATURE
from serving.repository import ModelRepository

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
EXAMPLES_INPUT, CLASSES, SCORES, REGRESSION_OUTPUT = "inputs", "classes", "scores", "outputs"


def serialized_examples(request_input: input_pb2.Input) -> np.ndarray:
    """InputToSerializedExampleTensor: a string tensor [n]; with a context, context bytes + example bytes (proto
    concatenation merges them, the example's features winning)."""
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        items = [e.SerializeToString() for e in request_input.example_list.examples]
    elif kind == "example_list_with_context":
        context = request_input.example_list_with_context.context.SerializeToString()
        items = [context + e.SerializeToString() for e in request_input.example_list_with_context.examples]
    else:
        items = []
    if not items:
        raise InvalidArgument("Input is empty.")
    serialized = np.empty(len(items), dtype=object)
    serialized[:] = items
    return serialized


def _find_signature(servable, signature_name: str):
    name = signature_name or DEFAULT_SIGNATURE
    if name not in servable.signature_defs:
        raise InvalidArgument(f"No signature was found with the name: {name}")
    return name, servable.signature_defs[name]


def check_classification_signature(signature) -> None:
    """PreProcessClassification."""
    if len(signature.inputs) != 1:
        raise InvalidArgument("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise InvalidArgument(f"Expected one or two output Tensors, found {len(signature.outputs)}")
    if EXAMPLES_INPUT not in signature.inputs:
        raise InvalidArgument(f"No classification inputs found in SignatureDef: {signature_text(signature)}")
    if CLASSES not in signature.outputs and SCORES not in signature.outputs:
        raise InvalidArgument(f'Expected classification signature outputs to contain at least one of "{CLASSES}" '
                              f'or "{SCORES}". Signature was: {signature_text(signature)}')


def check_regression_signature(signature) -> None:
    """PreProcessRegression."""
    if len(signature.inputs) != 1:
        raise InvalidArgument("Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise InvalidArgument("Expected one output Tensor.")
    if EXAMPLES_INPUT not in signature.inputs:
        raise InvalidArgument(f"No regression inputs found in SignatureDef: {signature_text(signature)}")
    if REGRESSION_OUTPUT not in signature.outputs:
        raise InvalidArgument(f"No regression outputs found in SignatureDef: {signature_text(signature)}")


def _shape_text(array: np.ndarray) -> str:
    return "[" + ",".join(str(d) for d in array.shape) + "]"


def _dtype_name(array: np.ndarray) -> str:
    if array.dtype == object or array.dtype.kind == "S":
        return "DT_STRING"
    return types_pb2.DataType.Name(tf.dtypes.as_dtype(array.dtype).as_datatype_enum)


def _checked_matrix(array, name: str, want: str, count: int) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise InvalidArgument(f"Expected Tensor shape: [batch_size num_classes] but got {_shape_text(array)}")
    if _dtype_name(array) != want:
        raise InvalidArgument(f"Expected {name} Tensor of {want}. Got: {_dtype_name(array)}")
    if array.shape[0] != count:
        raise InvalidArgument(f"Expected {name} output batch size of {count}. Got: {array.shape[0]}")
    return array


def classification_result(outputs: dict, count: int, result: classification_pb2.ClassificationResult) -> None:
    """PostProcessClassificationResult: per example, (label, score) per class."""
    classes = _checked_matrix(outputs[CLASSES], "classes", "DT_STRING", count) if CLASSES in outputs else None
    scores = _checked_matrix(outputs[SCORES], "scores", "DT_FLOAT", count) if SCORES in outputs else None
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise InvalidArgument(f"Tensors class and score should match in dim_size(1). Got {classes.shape[1]} vs. "
                              f"{scores.shape[1]}")
    num_classes = (classes if classes is not None else scores).shape[1]
    for row in range(count):
        classifications = result.classifications.add()
        for column in range(num_classes):
            entry = classifications.classes.add()
            if classes is not None:
                entry.label = bytes(classes[row, column]).decode("utf-8", "replace")
            if scores is not None:
                entry.score = scores[row, column]


def regression_result(outputs: dict, count: int, result: regression_pb2.RegressionResult) -> None:
    """PostProcessRegressionResult: one float per example."""
    values = np.asarray(outputs[REGRESSION_OUTPUT])
    if not (values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1)):
        raise InvalidArgument(f"Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
                              f"{_shape_text(values)}")
    if values.shape[0] != count:
        raise InvalidArgument(f"Input batch size did not match output batch size: {count} vs. {values.shape[0]}")
    if values.dtype != np.float32:
        raise InvalidArgument(f"Expected output Tensor of DT_FLOAT.  Got: {_dtype_name(values)}")
    for value in values.reshape(-1):
        result.regressions.add().value = value


def _run_on_examples(repo: ModelRepository, run: Runner, request, response, check_signature, fill_result):
    """What Classify and Regress share (classifier.cc RunClassify, regressor.cc RunRegress): the model spec, the
    signature checked by `check_signature`, the serialized examples run through it, `fill_result(outputs, count,
    response.result)`."""
    spec = require_model_spec(request)
    servable = resolve(repo, spec)
    signature_name, signature = _find_signature(servable, spec.signature_name)
    check_signature(signature)
    response_model_spec(response.model_spec, spec.name, signature_name, servable.version)
    examples = serialized_examples(request.input)
    outputs = run(servable, signature_name, {EXAMPLES_INPUT: examples})
    fill_result(outputs, len(examples), response.result)
    return response


def classify(repo: ModelRepository, run: Runner, request: classification_pb2.ClassificationRequest
             ) -> classification_pb2.ClassificationResponse:
    """PredictionService.Classify (classification_service.cc, classifier.cc RunClassify)."""
    return _run_on_examples(repo, run, request, classification_pb2.ClassificationResponse(),
                            check_classification_signature, classification_result)


def regress(repo: ModelRepository, run: Runner, request: regression_pb2.RegressionRequest
            ) -> regression_pb2.RegressionResponse:
    """PredictionService.Regress (regression_service.cc, regressor.cc RunRegress)."""
    return _run_on_examples(repo, run, request, regression_pb2.RegressionResponse(),
                            check_regression_signature, regression_result)


def multi_inference(repo: ModelRepository, run: Runner, request: inference_pb2.MultiInferenceRequest
                    ) -> inference_pb2.MultiInferenceResponse:
    """PredictionService.MultiInference (multi_inference_helper.cc, multi_inference.cc): classify and regress
    tasks on one model and one input. Each task's signature runs once on the shared examples."""
    first = request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()
    servable = resolve(repo, first)
    seen: set[str] = set()
    for task in request.tasks:
        if not task.model_spec.name:
            raise InvalidArgument("Found ModelSpec with an empty model name.")
        if task.model_spec.name != first.name:
            raise InvalidArgument("All ModelSpecs in a MultiInferenceRequest must access the same model name.")
        name = task.model_spec.signature_name or DEFAULT_SIGNATURE
        if name in seen:
            raise InvalidArgument(f"Duplicate evaluation of signature: {name}")
        seen.add(name)
        if name not in servable.signature_defs:
            raise InvalidArgument(f"Requested signature not found in model graph: {name}")
        if task.method_name == CLASSIFY_METHOD:
            check_classification_signature(servable.signature_defs[name])
        elif task.method_name == REGRESS_METHOD:
            check_regression_signature(servable.signature_defs[name])
        else:
            raise Unimplemented(f"Unsupported signature method_name: {task.method_name}")
    examples = serialized_examples(request.input)
    response = inference_pb2.MultiInferenceResponse()
    for task in request.tasks:
        name = task.model_spec.signature_name or DEFAULT_SIGNATURE
        outputs = run(servable, name, {EXAMPLES_INPUT: examples})
        result = response.results.add()
        if task.method_name == CLASSIFY_METHOD:
            classification_result(outputs, len(examples), result.classification_result)
        else:
            regression_result(outputs, len(examples), result.regression_result)
        response_model_spec(result.model_spec, task.model_spec.name, name, servable.version)
    return response
