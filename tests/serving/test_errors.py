"""The one table from canonical codes to HTTP statuses, fed by our errors and TensorFlow's."""
from __future__ import annotations

import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from serving.errors import HTTP_STATUS_BY_CODE, InvalidArgument, NotFound, Unimplemented, http_status_of
from serving.tensors import json_to_array


@pytest.mark.parametrize("exc, expected", [
    (InvalidArgument("bad"), (400, "INVALID_ARGUMENT", "bad")),
    (NotFound("gone"), (404, "NOT_FOUND", "gone")),
    (tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [2] vs. [3]"),
     (400, "INVALID_ARGUMENT", "Incompatible shapes: [2] vs. [3]")),
    (tf.errors.ResourceExhaustedError(None, None, "OOM"), (429, "RESOURCE_EXHAUSTED", "OOM")),
    (tf.errors.FailedPreconditionError(None, None, "uninitialized"), (400, "FAILED_PRECONDITION", "uninitialized")),
    (tf.errors.UnavailableError(None, None, "busy"), (503, "UNAVAILABLE", "busy")),
    (tf.errors.DeadlineExceededError(None, None, "slow"), (504, "DEADLINE_EXCEEDED", "slow")),
    (KeyError("x"), (500, "INTERNAL", "KeyError: 'x'")),
])
def test_errors_map_to_tf_servings_http_statuses(exc, expected):
    assert http_status_of(exc) == expected


def test_tensorflow_eager_wrapper_is_stripped_from_messages():
    message = ("Graph execution error:\n\nDetected at node DecodeImage defined at (most recent call last):\n"
               '  File "/x.py", line 3, in f\n\nUnknown image file format.\n\t [[{{node DecodeImage}}]] '
               "[Op:__inference_signature_wrapper_41]")
    assert http_status_of(tf.errors.InvalidArgumentError(None, None, message)) == (
        400, "INVALID_ARGUMENT", "Unknown image file format.\n\t [[{{node DecodeImage}}]]")


def test_unsupported_dtype_is_unimplemented_501():
    with pytest.raises(Unimplemented) as error:
        json_to_array([1.0], types_pb2.DT_HALF)
    assert http_status_of(error.value) == (501, "UNIMPLEMENTED", "Conversion of JSON Value: 1.0 to type: half")


def test_every_canonical_code_has_an_http_status():
    assert set(HTTP_STATUS_BY_CODE) >= {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                                        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
