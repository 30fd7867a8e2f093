"""JSON `examples` -> serialized tf.Example batches for :classify and :regress (TF Serving's json_tensor.cc)."""
from __future__ import annotations

from typing import Any

import numpy as np
from tensorflow.core.example import example_pb2, feature_pb2

from serving.errors import InvalidArgument
from serving.jsonvalues import json_type_name, value_to_string
from serving.tensors import TOO_BIG_FOR_DOUBLE, decode_b64, is_b64_object

_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64", None: "UNKNOWN"}


def _add_value(value: Any, name: str, feature: feature_pb2.Feature) -> None:
    """AddValueToFeature: the first value fixes the feature's kind; later ones must match it."""
    def want(kind: str) -> None:
        current = feature.WhichOneof("kind")
        if current not in (None, kind):
            raise InvalidArgument(f"Unexpected element type in feature: {name} expecting type: {_KIND_NAMES[current]}")

    if value is None or isinstance(value, list) or (isinstance(value, dict) and not is_b64_object(value)):
        raise InvalidArgument(f"Feature: {name} has element with unexpected JSON type: {json_type_name(value)}")
    if isinstance(value, bool):
        want("int64_list")
        feature.int64_list.value.append(int(value))
    elif isinstance(value, dict):
        want("bytes_list")
        feature.bytes_list.value.append(decode_b64(value))
    elif isinstance(value, str):
        want("bytes_list")
        feature.bytes_list.value.append(value.encode("utf-8"))
    elif isinstance(value, float) or not -2**63 <= value < 2**64:
        # rapidjson holds an integer past uint64 or below int64 as a double, so it is a float feature there too.
        want("float_list")
        try:
            feature.float_list.value.append(float(value))  # rounded to float like GetFloat (1e39 -> inf)
        except OverflowError:
            raise InvalidArgument(TOO_BIG_FOR_DOUBLE) from None
    else:
        want("int64_list")
        if value >= 2**63:
            raise InvalidArgument(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
        feature.int64_list.value.append(value)


def example_from_json(value: Any) -> example_pb2.Example:
    if not isinstance(value, dict):
        raise InvalidArgument(f"Example must be JSON object but got JSON {json_type_name(value)}")
    example = example_pb2.Example()
    for name, content in value.items():
        feature = feature_pb2.Feature()
        for item in content if isinstance(content, list) else [content]:
            _add_value(item, name, feature)
        example.features.feature[name].CopyFrom(feature)
    return example


def serialized_examples(doc: dict) -> np.ndarray:
    """The request's examples (each merged over the optional `context`), serialized, as a string tensor [n]."""
    context = example_from_json(doc["context"]) if "context" in doc else None
    if "examples" not in doc:
        # TF Serving says "classify" here for :regress too.
        raise InvalidArgument(f"JSON Value: {value_to_string(doc)} When method is classify, key 'examples' is "
                              "expected and was not found")
    examples = doc["examples"]
    if not isinstance(examples, list):
        raise InvalidArgument(f"JSON Value: {value_to_string(doc)} Expecting 'examples' value to be an list/array")
    if not examples:
        raise InvalidArgument(f"JSON Value: {value_to_string(doc)} 'examples' value is an empty array")
    serialized = np.empty(len(examples), dtype=object)
    for index, value in enumerate(examples):
        example = example_from_json(value)
        if context is not None:
            merged = example_pb2.Example()
            merged.CopyFrom(context)
            for name, feature in example.features.feature.items():
                merged.features.feature[name].CopyFrom(feature)
            example = merged
        serialized[index] = example.SerializeToString(deterministic=True)
    return serialized
