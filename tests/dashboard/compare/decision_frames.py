"""Synthetic result frames in the schema of client/schema.py, for the decision tests (no server needed)."""
from __future__ import annotations

import pandas as pd

from client import schema

CLASSES = ("cat", "dog", "other")


def result_frame(tops, truths, *, target="label:stable", version=1, classes=CLASSES, errors=None,
                 confidences=None, latencies=None, model="pets") -> pd.DataFrame:
    """One row per image img/000.jpg, img/001.jpg, ...: `tops[i]` gets `confidences[i]` (default 0.8), the rest
    share what is left; `errors[i]` (a message) makes row i an error row."""
    rows = []
    for i, (top, truth) in enumerate(zip(tops, truths)):
        error = errors[i] if errors else None
        confidence = confidences[i] if confidences else 0.8
        others = (1 - confidence) / (len(classes) - 1)
        row = {"source": f"img/{i:03d}.jpg", "top_class": None if error else top,
               "confidence": None if error else confidence}
        row.update({schema.prob_column(c): None if error else (confidence if c == top else others) for c in classes})
        row.update(ground_truth=truth, correct=schema.is_correct(None if error else top, truth), correction=None,
                   corrected_at=None, model=model, target=target, version=version,
                   latency_ms=latencies[i] if latencies else 10.0 + i, error=error,
                   error_type="ImageError" if error else None)
        rows.append(row)
    return pd.DataFrame(rows, columns=schema.columns(classes))


def fixes_and_regressions(fixes: int, regressions: int, n: int = 60, *, with_truth: bool = True):
    """(A rows, B rows) over n images, 20 per class in order cat/dog/other: B fixes the first `fixes` cat images
    (A said dog) and breaks the first `regressions` dog images (B says other); everything else both get right."""
    truth = [c for c in CLASSES for _ in range(n // 3)]
    a_top, b_top = list(truth), list(truth)
    for i in range(fixes):
        a_top[i] = "dog"
    for i in range(regressions):
        b_top[n // 3 + i] = "other"
    truths = truth if with_truth else [None] * n
    return (result_frame(a_top, truths, target="label:stable", version=1),
            result_frame(b_top, truths, target="label:canary", version=2))
