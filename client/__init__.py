"""ServeScope's TF Serving REST client (requests + urllib3 retries; no TensorFlow, no Streamlit).

    from client import TFServingClient
    with TFServingClient("http://127.0.0.1:8501", "pets") as tfs:
        results = tfs.classify(["cat.jpg", "dog.png"], label="stable")

Another team's model: TFServingClient(url, "mine", profile=ModelProfile.from_file("mine.json")) says how its
pixels are prepared and its outputs read (client.profile).

A program that prepares many pixel images may call reuse_large_buffers() once (client.memory; process-wide, glibc):
`python -m client` and the dashboard do.

Errors: see client.errors for the exception tree (nothing a client call raises escapes it).
"""
from client.core import TFServingClient
from client.errors import (AnswerTooLargeError, ImageError, InvalidArgumentError, InvalidInputError,
                           InvalidProbabilitiesError, ModelNotFoundError, PayloadTooLargeError, RequestTimeoutError,
                           ServerUnavailableError, SignatureError, TFServingError, UnexpectedAnswerError,
                           VersionNotAvailableError)
from client.images import ImageScaling
from client.memory import reuse_large_buffers
from client.signature_config import SignatureConfig
from client.profile import ModelProfile
from client.protocol import ModelMetadata, PredictResponse, SignatureSpec, TensorSpec, VersionStatus
from client.results import ClassificationResult

__all__ = [
    "TFServingClient",
    "VersionStatus",
    "TensorSpec",
    "SignatureSpec",
    "ModelMetadata",
    "PredictResponse",
    "ClassificationResult",
    "ImageScaling",
    "TFServingError",
    "ModelNotFoundError",
    "VersionNotAvailableError",
    "InvalidInputError",
    "ServerUnavailableError",
    "RequestTimeoutError",
    "ImageError",
    "PayloadTooLargeError",
    "UnexpectedAnswerError",
    "SignatureError",
    "InvalidArgumentError",
    "SignatureConfig",
    "AnswerTooLargeError",
    "InvalidProbabilitiesError",
    "ModelProfile",
    "reuse_large_buffers",
]
