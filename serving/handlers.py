"""Request handlers: decode the request, call the repository/servable, encode TF Serving's JSON. Nothing else.

Each handler returns the response body (str) or raises; the app maps exceptions through errors.py.
"""
from __future__ import annotations

import json
from typing import Callable, Optional

import numpy as np
from google.protobuf import json_format
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2

from serving import examples, responses, tensors
from serving.errors import InvalidArgument
from serving.jsonvalues import parse_json_object, parse_predict_object, value_to_string
from serving.loader import LoadedVersion
from serving.repository import ModelRepository

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"

# Runs a servable's signature; the app wraps it with the request timeout and the thread limit.
Runner = Callable[[LoadedVersion, str, dict], dict]


def _to_dict(message) -> dict:
    # TF Serving's JsonPrintOptions: proto field names, and fields at their default values printed too.
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def _signature_name(doc: dict) -> str:
    value = doc.get("signature_name", "")
    if not isinstance(value, str):
        raise InvalidArgument(f"JSON Value: {value_to_string(doc)} not formatted correctly. "
                              "'signature_name' key must be a string value.")
    return value


def model_status(repo: ModelRepository, name: str, version: Optional[int], label: Optional[str]) -> str:
    """GetModelStatus. Like TF Serving's, it ignores a version label: `/labels/L` lists every version."""
    del label  # GetModelStatusImpl only looks at model_spec.version (model_servers/get_model_status_impl.cc)
    response = get_model_status_pb2.GetModelStatusResponse()
    for state in repo.version_states(name, version):
        entry = response.model_version_status.add()
        entry.version = state.version
        entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(state.state)
        entry.status.error_code = error_codes_pb2.Code.Value(state.error_code)
        entry.status.error_message = state.error_message
    return json.dumps(_to_dict(response), indent=1)


def model_metadata(repo: ModelRepository, name: str, version: Optional[int], label: Optional[str]) -> tuple[str, int]:
    """GetModelMetadata as TF Serving's REST API prints it (http_rest_api_util.cc ToJsonString): the packed
    SignatureDefMap is unpacked and printed on its own, so there is no "@type" key."""
    servable = repo.resolve(name, version, label)
    model_spec = model_pb2.ModelSpec(name=name)
    model_spec.version.value = servable.version
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, signature in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(signature)
    body = {"model_spec": _to_dict(model_spec), "metadata": {"signature_def": _to_dict(signature_map)}}
    return json.dumps(body, indent=1), servable.version


def predict(repo: ModelRepository, run: Runner, name: str, version: Optional[int], label: Optional[str],
            body: bytes) -> tuple[str, int]:
    doc = parse_predict_object(body)
    del body  # large bodies: keep as few copies alive as possible (this frame holds the only reference)
    signature_name = _signature_name(doc)
    servable = repo.resolve(name, version, label)
    signature = servable.signature(signature_name)
    inputs, request_format = tensors.decode_predict_request(doc, signature.inputs, signature_name)
    del doc  # the decoded tensors are all the run needs
    outputs = run(servable, signature_name, inputs)
    return responses.encode_predict_response(outputs, request_format), servable.version


def _example_signature(servable: LoadedVersion, signature_name: str, method: str, kind: str):
    name = signature_name or "serving_default"
    if name not in servable.signature_defs:
        raise InvalidArgument(f"No signature was found with the name: {name}")
    signature = servable.signature(name)
    if signature.method_name != method:
        raise InvalidArgument(f"Expected {kind} signature method_name to be {method}. Was: {signature.method_name}")
    if len(signature.inputs) != 1:
        raise InvalidArgument(f"Expected one input Tensor in the {kind} signature {name}.")
    return name, signature


def _run_examples(repo: ModelRepository, run: Runner, name: str, version: Optional[int], label: Optional[str],
                  body: bytes, method: str, kind: str):
    """Decode a classify/regress body into serialized tf.Examples and run the signature; (servable, outputs)."""
    doc = parse_json_object(body)
    del body
    signature_name = _signature_name(doc)
    serialized = examples.serialized_examples(doc)
    del doc
    servable = repo.resolve(name, version, label)
    signature_name, signature = _example_signature(servable, signature_name, method, kind)
    return servable, run(servable, signature_name, {next(iter(signature.inputs)): serialized})


def classify(repo: ModelRepository, run: Runner, name: str, version: Optional[int], label: Optional[str],
             body: bytes) -> tuple[str, int]:
    servable, outputs = _run_examples(repo, run, name, version, label, body, CLASSIFY_METHOD, "classification")
    classes, scores = outputs.get("classes"), outputs.get("scores")
    if classes is None and scores is None:
        raise InvalidArgument("Expected classification signature outputs to contain classes or scores.")
    return responses.encode_classify_response(classes, scores), servable.version


def regress(repo: ModelRepository, run: Runner, name: str, version: Optional[int], label: Optional[str],
            body: bytes) -> tuple[str, int]:
    servable, outputs = _run_examples(repo, run, name, version, label, body, REGRESS_METHOD, "regression")
    if "outputs" not in outputs:
        raise InvalidArgument("Expected regression signature outputs to contain outputs.")
    return responses.encode_regress_response(np.asarray(outputs["outputs"])), servable.version
