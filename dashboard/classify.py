"""Classify uploaded images against one model version; rows in the client's one result schema (client.schema).

Items are the (name, loader) pairs client.sources.expand_uploads makes: the client reads each one when it sends
it, and a loader that raises becomes that item's error row, so there is one row per item, in item order.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Mapping, Sequence

import pandas as pd

from client import ClassificationResult, InvalidArgumentError, SignatureConfig, TFServingClient, schema
from client.sources import Loader

from dashboard.config import PREDICT_TIMEOUT_S, FieldError
from dashboard.targets import Target
from dashboard.thumbnails import ThumbnailPool

ProgressCallback = Callable[[int, int], None]  # (done, total)
Item = tuple[str, Loader]

TOP5_LABELS, TOP5_SCORES = "imagenet_top5_labels", "imagenet_top5_scores"
# Why rows failed, in a few words, by the client's error type (the rows keep the full messages).
REASONS = {
    "ServerUnavailableError": "cannot reach the server",
    "RequestTimeoutError": "no answer in time",
    "ImageError": "not a usable image",
    "InvalidInputError": "rejected by the server",
    "PayloadTooLargeError": "too large for the server",
}


class NothingToClassify(ValueError):
    """The uploads held no image to send (every member skipped, or nothing uploaded); says what was skipped."""

    def __init__(self, verb: str, skipped: Sequence = ()) -> None:
        listed = "; ".join(f"{item.name} ({item.reason})" for item in list(skipped)[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        super().__init__(f"no images to {verb}: upload at least one image or ZIP archive of images"
                         + (f" (skipped {len(skipped)}: {listed}{more})" if skipped else ""))


@dataclass(frozen=True)
class ClassificationRun:
    run_id: str
    kind: str                        # "classify", or "compare A"/"compare B" for the Compare page's runs
    started_at: datetime
    url: str
    model: str
    target: Target
    class_names: tuple[str, ...]
    rows: pd.DataFrame               # one row per item: thumbnail, then client.schema.columns(class_names)
    extras: dict[int, dict] = field(default_factory=dict)   # row index -> the model's other outputs
    elapsed_s: float = 0.0
    skipped: tuple = ()              # client.sources.Skipped: members the expander left out, and why

    @property
    def n_images(self) -> int:
        return len(self.rows)

    @property
    def n_errors(self) -> int:
        return int(self.rows["error"].notna().sum())

    @property
    def versions(self) -> list[int]:
        return sorted(int(v) for v in self.rows["version"].dropna().unique())

    def class_counts(self) -> dict[str, int]:
        """Top-class counts in class order, every class present (0 when none), plus errors if any."""
        counts = {name: int((self.rows["top_class"] == name).sum()) for name in self.class_names}
        if self.n_errors:
            counts["error"] = self.n_errors
        return counts

    def top5(self, row_index: int) -> list[tuple[str, float]]:
        """The ImageNet top-5 the model saw for one row, when the model returns it."""
        extras = self.extras.get(row_index, {})
        return list(zip(extras.get(TOP5_LABELS, ()), (float(s) for s in extras.get(TOP5_SCORES, ()))))

    def csv_frame(self) -> pd.DataFrame:
        return self.rows.drop(columns=["thumbnail"])

    def failure_reasons(self) -> str:
        """'300 cannot reach the server, 40 not a usable image' (most frequent first)."""
        kinds = Counter(REASONS.get(str(kind), "other errors") for kind in self.rows.loc[self.rows["error"].notna(),
                                                                                        "error_type"])
        if len(kinds) == 1:
            return next(iter(kinds))
        return ", ".join(f"{count} {reason}" for reason, count in kinds.most_common())

    def outcome(self) -> str:
        """The honest one-line result: 'Classified 160 of 500 image(s): 340 failed — cannot reach the server'."""
        done = f"Classified {self.n_images - self.n_errors} of {self.n_images} image(s)"
        if not self.n_errors:
            return f"{done} in {self.elapsed_s:.1f} s"
        return f"{done}: {self.n_errors} failed — {self.failure_reasons()}"


def _class_names(results: Sequence[ClassificationResult]) -> tuple[str, ...]:
    """The model's label order, from the first successful result (the client keeps the model's order)."""
    for result in results:
        if result.ok and result.probabilities:
            return tuple(result.probabilities)
    return ()


def _rows(results: Sequence[ClassificationResult], class_names: tuple[str, ...], model: str, target: Target,
          thumbnails: Sequence[str | None]) -> pd.DataFrame:
    asked = schema.target_text(**target.kwargs)
    rows = [{"thumbnail": thumbnail, **schema.result_row(result, class_names, model=model, target=asked)}
            for result, thumbnail in zip(results, thumbnails)]
    frame = pd.DataFrame(rows, columns=["thumbnail", *schema.columns(class_names)])
    return frame.astype({"version": "Int64", "latency_ms": "float64", "confidence": "float64"})


def classify_pass(client: TFServingClient, items: Sequence[Item], target: Target, *, kind: str,
                  thumbnails: Sequence[str | None] | None = None, skipped: Sequence = (),
                  on_progress: ProgressCallback | None = None) -> ClassificationRun:
    """One pass over `items` with `target`. Thumbnails are made alongside the requests unless given (Compare's
    second pass reuses the first's). A missing model/version or a non-image model raises the client's error."""
    started_at, clock = datetime.now(timezone.utc), time.perf_counter()
    total = len(items)
    if on_progress:
        on_progress(0, total)
    with ThumbnailPool(total) as pool:
        sent = pool.wrap(items) if thumbnails is None else list(items)
        results: list[ClassificationResult] = []
        # iter_classify yields in input order on this thread, so progress can drive Streamlit widgets safely.
        for result in client.iter_classify(sent, **target.kwargs):
            results.append(result)
            if on_progress:
                on_progress(len(results), total)
        uris = pool.uris() if thumbnails is None else list(thumbnails)
    class_names = _class_names(results)
    extras = {index: dict(result.extras) for index, result in enumerate(results) if result.ok and result.extras}
    return ClassificationRun(run_id=uuid.uuid4().hex[:8], kind=kind, started_at=started_at, url=client.base_url,
                             model=client.model, target=target, class_names=class_names,
                             rows=_rows(results, class_names, client.model, target, uris), extras=extras,
                             elapsed_s=time.perf_counter() - clock, skipped=tuple(skipped))


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


def open_client(url: str, model: str) -> TFServingClient:
    """A client for classifying: the predict timeout, two retries, and the operator's signature if set."""
    return TFServingClient(url, model, timeout=PREDICT_TIMEOUT_S, retries=2, signature=configured_signature())


def probe_class_names(url: str, model: str, target: Target, items: Sequence[Item], tries: int = 3) -> tuple[str, ...]:
    """The model's classes, in its order, from the configured signature or else one request with one of the
    first `tries` items (TF Serving's metadata does not list class names). Empty when none could be read;
    raises the client's error when the server cannot be asked at all."""
    signature = configured_signature()
    if signature is not None:
        return tuple(signature.class_names)
    with open_client(url, model) as client:
        for item in list(items)[:tries]:
            [result] = client.classify([item], batch_size=1, concurrency=1, **target.kwargs)
            if result.ok and result.probabilities:
                return tuple(result.probabilities)
    return ()


def run_classification(url: str, model: str, items: Sequence[Item], target: Target, *, skipped: Sequence = (),
                       on_progress: ProgressCallback | None = None) -> ClassificationRun:
    """Classify (name, loader) items with one target. Per-file problems become error rows; an unreachable
    server, an unknown model/version or a model that cannot classify images raises the client's error."""
    if not items:
        raise NothingToClassify("classify", skipped)
    with open_client(url, model) as client:
        return classify_pass(client, items, target, kind="classify", skipped=skipped, on_progress=on_progress)
