"""Classify uploaded images against one model version and shape the results for tables, charts and CSV."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence

import pandas as pd

from client import ClassificationResult, TFServingClient

from dashboard.config import PREDICT_TIMEOUT_S
from dashboard.targets import Target
from dashboard.thumbnails import thumbnail_data_uri
from dashboard.uploads import UploadItem, expand_uploads

ProgressCallback = Callable[[int, int], None]  # (done, total)

# Thumbnails beyond this many rows would only bloat the session; the rows keep everything else.
MAX_THUMBNAILS = 1000
TOP5_LABELS, TOP5_SCORES = "imagenet_top5_labels", "imagenet_top5_scores"


def prob_column(class_name: str) -> str:
    return f"prob_{class_name}"


@dataclass(frozen=True)
class ClassificationRun:
    run_id: str
    kind: str                        # "classify", or "compare A"/"compare B" for the Compare page's runs
    started_at: datetime
    url: str
    model: str
    target: Target
    class_names: tuple[str, ...]
    rows: pd.DataFrame               # one row per input: thumbnail, source, top_class, confidence, prob_*, ...
    extras: dict[int, dict] = field(default_factory=dict)   # row index -> the model's other outputs
    elapsed_s: float = 0.0

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


def _class_names(results: Sequence[ClassificationResult]) -> tuple[str, ...]:
    """The model's label order, from the first successful result (the client keeps the model's order)."""
    for result in results:
        if result.ok and result.probabilities:
            return tuple(result.probabilities)
    return ()


def thumbnails(items: Sequence[UploadItem]) -> list[str | None]:
    """One thumbnail per item (None past MAX_THUMBNAILS or for bytes Pillow cannot read)."""
    return [thumbnail_data_uri(item.data) if index < MAX_THUMBNAILS else None for index, item in enumerate(items)]


def _rows(items: Sequence[UploadItem], results: dict[int, ClassificationResult], class_names: tuple[str, ...],
          item_thumbnails: Sequence[str | None]) -> pd.DataFrame:
    rows = []
    for index, item in enumerate(items):
        result = results.get(index)
        row = {"thumbnail": item_thumbnails[index], "source": item.name, "top_class": None, "confidence": None}
        row.update({prob_column(name): None for name in class_names})
        row.update({"version": None, "latency_ms": None, "error": item.error})
        if result is not None:
            if result.ok:
                row["top_class"] = result.label
                row["confidence"] = max(result.probabilities.values()) if result.probabilities else None
                row.update({prob_column(name): result.probabilities.get(name) for name in class_names})
            else:
                row["error"] = result.error
            row["version"] = result.version
            row["latency_ms"] = result.latency_ms
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["thumbnail", "source", "top_class", "confidence",
                                        *map(prob_column, class_names), "version", "latency_ms", "error"])
    return frame.astype({"version": "Int64", "latency_ms": "float64", "confidence": "float64"})


def classify_items(client: TFServingClient, items: Sequence[UploadItem], target: Target,
                   on_progress: ProgressCallback | None = None) -> dict[int, ClassificationResult]:
    """Results keyed by item index. Items that already failed (bad archive…) are never sent."""
    sendable = [(index, item) for index, item in enumerate(items) if item.error is None]
    total = len(items)
    done = total - len(sendable)
    if on_progress:
        on_progress(done, total)
    results: dict[int, ClassificationResult] = {}
    payload = [(item.name, item.data) for _, item in sendable]
    # iter_classify yields in input order on this thread, so progress can drive Streamlit widgets safely.
    for (index, _), result in zip(sendable, client.iter_classify(payload, **target.kwargs)):
        results[index] = result
        done += 1
        if on_progress:
            on_progress(done, total)
    return results


def build_run(kind: str, url: str, model: str, target: Target, items: Sequence[UploadItem],
              results: dict[int, ClassificationResult], started_at: datetime, elapsed_s: float,
              item_thumbnails: Sequence[str | None] | None = None) -> ClassificationRun:
    """`item_thumbnails` lets several runs over the same items (Compare) decode each image once."""
    class_names = _class_names(list(results.values()))
    extras = {index: dict(result.extras) for index, result in results.items() if result.ok and result.extras}
    rows = _rows(items, results, class_names, item_thumbnails if item_thumbnails is not None else thumbnails(items))
    return ClassificationRun(run_id=uuid.uuid4().hex[:8], kind=kind, started_at=started_at, url=url, model=model,
                             target=target, class_names=class_names, rows=rows, extras=extras, elapsed_s=elapsed_s)


def run_classification(url: str, model: str, uploads: Iterable[tuple[str, bytes]], target: Target,
                       on_progress: ProgressCallback | None = None) -> ClassificationRun:
    """Classify uploaded images/ZIPs with one target version. Per-file problems become error rows; an
    unreachable server or unknown model/version raises the client's error."""
    items = expand_uploads(uploads)
    if not items:
        raise ValueError("no files to classify: upload at least one image or ZIP archive")
    started_at = datetime.now(timezone.utc)
    clock = time.perf_counter()
    with TFServingClient(url, model, timeout=PREDICT_TIMEOUT_S, retries=2) as client:
        results = classify_items(client, items, target, on_progress)
    return build_run("classify", url, model, target, items, results, started_at, time.perf_counter() - clock)
