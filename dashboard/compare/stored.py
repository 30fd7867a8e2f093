"""Compare, after a run: a stored comparison loaded back as dashboard.compare.decision.Side objects, its
decisions, corrections written to every run of it, and the promotion plan for a winner. Pure (no streamlit).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from client import schema
from client.protocol import SignatureSpec
from dashboard.compare.decision import ALIGN, Decision, Side, compare_with_baseline
from dashboard.compare.promotion import PromotionError, PromotionPlan, promotion_plan
from dashboard.evaluate.detail import DetailImage, SideView
from dashboard.runs.latency_probe import LatencyProbe
from dashboard.runs.results import short_names, thumbnail_uris
from client.store.database import Comparison, RunInfo, Store
from dashboard.targets import Target


@dataclass(frozen=True, eq=False)
class StoredComparison:
    comparison: Comparison
    runs: tuple[RunInfo, ...]            # the baseline first, as stored
    rows: tuple[pd.DataFrame, ...]       # each run's rows in client.schema's columns
    thumbnails: Mapping[str, str]        # source -> data: URI (from the run that kept them)

    @property
    def finished(self) -> bool:
        return all(run.finished for run in self.runs)

    @property
    def run_ids(self) -> list[str]:
        return [run.id for run in self.runs]

    @property
    def class_names(self) -> list[str]:
        return list(dict.fromkeys(name for run in self.runs for name in run.class_names))


def load_comparison(store: Store, comparison_id: str) -> StoredComparison | None:
    """The comparison and its runs' rows and thumbnails, or None when no such comparison is stored."""
    comparison = store.get_comparison(comparison_id)
    if comparison is None:
        return None
    run_ids = [comparison.baseline_run_id, *comparison.other_run_ids]
    runs = tuple(store.get_run(run_id) for run_id in run_ids)
    if any(run is None for run in runs):
        return None
    rows = tuple(store.run_rows(run_id) for run_id in run_ids)
    thumbnails: dict[str, str] = {}
    for run, frame in zip(runs, rows):
        if run.thumbnails:
            for position, uri in thumbnail_uris(store, run.id).items():
                if position in frame.index:
                    thumbnails.setdefault(str(frame.at[position, "source"]), uri)
    return StoredComparison(comparison, runs, rows, thumbnails)


def side_name(run: RunInfo) -> str:
    target = Target.parse(run.target)
    if target.version is None and run.version is not None:
        return f"{target.describe()} (v{run.version})"
    return target.describe()


def latency_probe(loaded: StoredComparison) -> LatencyProbe | None:
    """The comparison's latency probe (each side timed on its own after the run), once measured."""
    return LatencyProbe.from_json(loaded.comparison.latency_probe)


def sides(loaded: StoredComparison, signatures: Mapping[int, SignatureSpec] | None = None) -> list[Side]:
    """One decision.Side per run: its rows, its latency probe, signature (by the version that answered, when
    given), the model profile it used and, for a label, the version it named at start and at end."""
    found = []
    probe = latency_probe(loaded)
    for run, rows in zip(loaded.runs, loaded.rows):
        label = Target.parse(run.target).label
        found.append(Side(rows.reset_index(drop=True), name=side_name(run),
                          probe=probe.side(run.id) if probe is not None else None,
                          signature=(signatures or {}).get(run.version) if run.version is not None else None,
                          version_at_start=run.labels_at_start.get(label) if label else None,
                          version_at_end=run.labels_at_end.get(label) if label else None, profile=run.profile))
    return found


def decisions(loaded: StoredComparison, baseline: int = 0, *, classes: str = ALIGN,
              signatures: Mapping[int, SignatureSpec] | None = None) -> list[Decision]:
    """Every other run decided against run `baseline`. Raises ClassSetMismatch when classes cannot be compared."""
    probe = latency_probe(loaded)
    return compare_with_baseline(sides(loaded, signatures), baseline, classes=classes,
                                 latency_how=probe.how_text() if probe is not None else None)


def correct_everywhere(store: Store, run_ids: Sequence[str], source: str, correction: str | None,
                       class_names: Sequence[str]) -> int:
    """The analyst's class for `source` on every run of the comparison (so every side is judged against the
    same truth); returns the rows changed. ValueError for a class no side has or a source no run has."""
    if correction is not None and correction not in class_names:
        raise ValueError(f"correction for {source!r}: {correction!r} is not one of the classes "
                         f"({', '.join(class_names)})")
    changed = 0
    for run_id in run_ids:
        try:
            changed += store.set_correction(run_id, source, correction)
        except LookupError:
            continue  # a side that never got this image (cancelled before it)
    if not changed:
        raise ValueError(f"correction: no run of this comparison has an image named {source!r}")
    return changed


def promotion_for(decision: Decision, baseline: RunInfo, candidate: RunInfo, *,
                  labels_now: Mapping[str, int] | None = None,
                  versions_now: Sequence[int] = ()) -> PromotionPlan | None:
    """What pointing the baseline's label at the candidate's version takes; None when there is no label to
    move (the baseline is a version no label names) or no version that answered."""
    labels = dict(labels_now if labels_now is not None else baseline.labels_at_start)
    label = Target.parse(baseline.target).label or next((name for name, v in labels.items() if v == baseline.version), None)
    if label is None or candidate.version is None:
        return None
    versions = sorted(set(versions_now) | {v for v in (baseline.version,) if v is not None})
    try:
        return promotion_plan(decision.model or baseline.model, label=label, to_version=candidate.version,
                              versions=versions or [candidate.version], labels=labels)
    except PromotionError:
        return None


def stored_truth(store: Store, run_id: str) -> dict[str, str]:
    """source -> ground truth of a stored run (what "Compare with…" carries over from a Classify result)."""
    rows = store.run_rows(run_id)
    known = rows[rows["ground_truth"].notna()]
    return {str(source): str(truth) for source, truth in zip(known["source"], known["ground_truth"])
            if not schema.is_missing(truth)}


def _side_view(letter: str, run: RunInfo, rows: pd.DataFrame, source: str) -> SideView:
    found = rows[rows["source"].astype(str) == source]
    name = f"{letter}: {side_name(run)}"
    label = Target.parse(run.target).label
    if found.empty:
        return SideView(name, run.url, run.model, run.version, label, error="not classified in this run")
    row = found.iloc[0]
    if not schema.is_missing(row.get("error")):
        return SideView(name, run.url, run.model, run.version, label, error=str(row["error"]))
    probabilities = {c: float(row[schema.prob_column(c)]) for c in run.class_names
                     if schema.prob_column(c) in row and not schema.is_missing(row[schema.prob_column(c)])}
    return SideView(name, run.url, run.model, run.version, label, probabilities=probabilities)


def detail_image(loaded: StoredComparison, baseline: int, other: int, source: str) -> DetailImage | None:
    """One image of the comparison as the detail view shows it: A (run `baseline`) and B (run `other`) side by side,
    the truth in effect (a correction is written to every run), the first side's thumbnail."""
    rows_a = loaded.rows[baseline]
    matches = rows_a.index[rows_a["source"].astype(str) == source].tolist()
    if not matches:
        return None
    row = rows_a.loc[matches[0]]
    correction, detected = row.get("correction"), row.get("ground_truth")
    corrected = not schema.is_missing(correction)
    detected = None if schema.is_missing(detected) else str(detected)
    names = dict(zip(rows_a["source"].astype(str), short_names(rows_a["source"].astype(str).tolist())))
    sides = (_side_view("A", loaded.runs[baseline], rows_a, source),
             _side_view("B", loaded.runs[other], loaded.rows[other], source))
    return DetailImage(source=source, name=names[source], thumbnail=loaded.thumbnails.get(source),
                       truth=str(correction) if corrected else detected, corrected=corrected, detected=detected,
                       sides=sides)
