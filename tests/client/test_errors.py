"""The status -> exception table, and the public names."""
from __future__ import annotations

import pytest

import client
from client.errors import (ImageError, InvalidArgumentError, InvalidInputError, ModelNotFoundError,
                           PayloadTooLargeError, RequestTimeoutError, ServerUnavailableError, SignatureError,
                           TFServingError, UnexpectedAnswerError, VersionNotAvailableError, bounded,
                           error_for_status)

URL = "http://127.0.0.1:8501/v1/models/pets"


@pytest.mark.parametrize("status, error, expected", [
    (404, "Servable not found for request: Latest(nosuch)", ModelNotFoundError),
    (404, "Could not find any versions of model nosuch", ModelNotFoundError),
    (404, "Servable not found for request: Specific(pets, 9)", VersionNotAvailableError),
    (404, "Could not find version 9 of model pets", VersionNotAvailableError),
    (400, "Unrecognized servable version label: nope", VersionNotAvailableError),
    (400, "JSON Parse error: The document is empty", InvalidInputError),
    (400, "Expected image (JPEG, PNG, or GIF), got unknown format", InvalidInputError),
    (413, "request body of 90000000 bytes exceeds the limit", PayloadTooLargeError),
    (408, "request timeout", RequestTimeoutError),
    (429, "too many requests", ServerUnavailableError),
    (500, "Internal: boom", ServerUnavailableError),
    (502, "bad gateway", ServerUnavailableError),
    (503, "Unavailable", ServerUnavailableError),
    (504, "Deadline exceeded", ServerUnavailableError),
    (501, "not implemented", ServerUnavailableError),
    (403, "forbidden", TFServingError),
])
def test_status_table(status, error, expected):
    exc = error_for_status(status, error, method="POST", url=URL)
    assert type(exc) is expected
    assert (exc.method, exc.url, exc.status, exc.error) == ("POST", URL, status, error)
    assert str(exc) == f"POST {URL} -> {status}: {error}"


def test_every_error_is_a_tfserving_error_and_payload_too_large_splits_like_400():
    for cls in (ModelNotFoundError, VersionNotAvailableError, InvalidInputError, ServerUnavailableError,
                RequestTimeoutError, PayloadTooLargeError, UnexpectedAnswerError, SignatureError,
                InvalidArgumentError):
        assert issubclass(cls, TFServingError)
    assert issubclass(PayloadTooLargeError, InvalidInputError)


def test_image_error_names_the_source():
    exc = ImageError("photos/a.txt", "not an image")
    assert isinstance(exc, ValueError)
    assert exc.source == "photos/a.txt"
    assert str(exc) == "photos/a.txt: not an image"


def test_public_names_are_pinned():
    assert client.__all__ == [
        "TFServingClient", "VersionStatus", "TensorSpec", "SignatureSpec", "ModelMetadata", "PredictResponse",
        "ClassificationResult", "ImageScaling",
        "TFServingError", "ModelNotFoundError", "VersionNotAvailableError", "InvalidInputError",
        "ServerUnavailableError", "RequestTimeoutError", "ImageError", "PayloadTooLargeError",
        "UnexpectedAnswerError", "SignatureError", "InvalidArgumentError", "SignatureConfig",
        "AnswerTooLargeError", "InvalidProbabilitiesError", "ModelProfile", "reuse_large_buffers",
    ]
    for name in client.__all__:
        assert getattr(client, name).__module__.startswith("client.")


def test_the_docstring_tree_lists_every_error_class():
    """The documented tree is the contract: every TFServingError subclass appears in it."""
    import client.errors as errors
    classes = [obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, Exception)]
    assert len(classes) == 13
    for cls in classes:
        assert cls.__name__ in errors.__doc__, cls.__name__


def test_invalid_argument_and_signature_errors_carry_their_field():
    exc = InvalidArgumentError("label", "a,,b", "contains ','")
    assert (exc.field, exc.value, exc.method, exc.url, exc.status) == ("label", "a,,b", "", "", None)
    assert str(exc) == "label 'a,,b': contains ','"
    long = InvalidArgumentError("model", "m" * 500, "too long")
    assert str(long) == "model '" + "m" * 76 + "...: too long"
    sig = SignatureError("cannot classify", signature="x", method="GET", url="http://h/v1/models/m/metadata")
    assert (sig.signature, str(sig)) == ("x", "GET http://h/v1/models/m/metadata: cannot classify")


def test_bounded_says_how_much_was_cut():
    assert bounded("short") == "short"
    assert bounded("x" * 301) == "x" * 300 + "… (cut; 301 characters in all)"
