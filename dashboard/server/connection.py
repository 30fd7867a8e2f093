"""What classifying needs besides the run itself (dashboard.runs.manager runs it): the operator's signature setting,
a client for classifying, the model's class names before a run, and the error for uploads with nothing to send.

Items are the (name, loader) pairs client.sources.expand_uploads makes: the client reads each one when it sends it.
"""
from __future__ import annotations

import json
import os
from typing import Mapping, Sequence

from client import InvalidArgumentError, ModelProfile, SignatureConfig, TFServingClient
from client.sources import Item
from dashboard.config import PREDICT_TIMEOUT_S, FieldError
from dashboard.targets import Target

TOP5_LABELS, TOP5_SCORES = "imagenet_top5_labels", "imagenet_top5_scores"


class NothingToClassify(ValueError):
    """The uploads held no image to send (every member skipped, or nothing uploaded); says what was skipped."""

    def __init__(self, verb: str, skipped: Sequence = ()) -> None:
        listed = "; ".join(f"{item.name} ({item.reason})" for item in list(skipped)[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        super().__init__(f"no images to {verb}: upload at least one image or ZIP archive of images"
                         + (f" (skipped {len(skipped)}: {listed}{more})" if skipped else ""))


SIGNATURE_SETTING = "SERVESCOPE_SIGNATURE"


def configured_signature(environ: Mapping[str, str] = os.environ) -> SignatureConfig | None:
    """The operator's SERVESCOPE_SIGNATURE (client.SignatureConfig as JSON), for servers without the metadata
    API (e.g. a KServe route); None when unset. Raises FieldError naming the setting when it cannot be used."""
    text = (environ.get(SIGNATURE_SETTING) or "").strip()
    if not text:
        return None
    try:
        return SignatureConfig.from_json(json.loads(text))
    except (ValueError, InvalidArgumentError) as exc:
        raise FieldError(SIGNATURE_SETTING, f"not a usable signature configuration ({exc})") from None


def open_client(url: str, model: str, *, profile: ModelProfile | None = None) -> TFServingClient:
    """A client for classifying: the predict timeout, two retries, the operator's signature if set, and the model
    profile the run uses (dashboard.server.profiles; None: the client's default)."""
    return TFServingClient(url, model, timeout=PREDICT_TIMEOUT_S, retries=2, signature=configured_signature(),
                           profile=profile)


def probe_class_names(url: str, model: str, target: Target, items: Sequence[Item], tries: int = 3, *,
                      profile: ModelProfile | None = None) -> tuple[str, ...]:
    """The model's classes, in its order: the profile's, else the configured signature's, else from one request
    with one of the first `tries` items (TF Serving's metadata does not list class names). Empty when none could
    be read; raises the client's error when the server cannot be asked at all."""
    if profile is not None and profile.class_names:
        return tuple(profile.class_names)
    signature = configured_signature()
    if signature is not None:
        return tuple(signature.class_names)
    with open_client(url, model, profile=profile) as client:
        for item in list(items)[:tries]:
            [result] = client.classify([item], batch_size=1, concurrency=1, **target.kwargs)
            if result.ok and result.probabilities:
                return tuple(result.probabilities)
    return ()
