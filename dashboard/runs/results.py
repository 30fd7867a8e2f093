"""One stored classify run as the Classify page (and History's "open a run") shows it: its record, its rows in
client.schema's columns, thumbnails as data URIs, the model's extra outputs, short names and exports. Pure
(no streamlit): dashboard.classify.view draws it.
"""
from __future__ import annotations

import base64
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pandas as pd

from client import schema
from client.store.records import RunProfile
from dashboard.server.connection import TOP5_LABELS, TOP5_SCORES
from dashboard.server.profiles import PROFILES_SETTING, describe_profile, short_digest
from client.store.database import RunInfo, Store
from dashboard.targets import Target

__all__ = ["StoredRun", "assumed_note", "load_stored_run", "profile_text", "short_names", "csv_bytes", "json_bytes",
           "jpeg_data_uri", "thumbnail_uris",
           "top5_of", "table_frame", "run_query_params", "label_moved_note"]


_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def run_query_params(run_id: str) -> dict[str, str]:
    """The `?run=<id>` query of a run's link; only a stored run's own id goes in (never user text)."""
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    return {"run": run_id}


def label_moved_note(run: RunInfo, current_labels: Mapping[str, int | None]) -> str | None:
    """'stable was version 1 when this ran; it is version 2 now' when the run asked for a label that names
    another version now. `current_labels`: label -> version now (None: the label names no version now); a label
    missing from it is unknown, and gets no note."""
    label = Target.parse(run.target).label
    if label is None:
        return None
    then = run.labels_at_start.get(label, run.version)
    if then is None or label not in current_labels:
        return None
    now = current_labels[label]
    if now == then:
        return None
    if now is None:
        return f"{label} was version {then} when this ran; it names no available version now"
    return f"{label} was version {then} when this ran; it is version {now} now"


def assumed_note(model: str, profile: RunProfile | None) -> str | None:
    """"preparation assumed: …; set a profile …" for a run of a pixel model that had no profile (the default
    preparation was used: its results may be wrong, and say so); None otherwise."""
    if profile is None or not profile.assumed:
        return None
    return (f"preparation assumed: {profile.preparation}; set a profile: on the Models page for this session, or "
            f"as {model}.json in the operator's {PROFILES_SETTING} folder")


def profile_text(profile: RunProfile | None) -> str:
    """"sha256:1a2b3c4d5e6f (SERVESCOPE_PROFILES/mine.json): preset keras-tf; classes Cat, Dog" — the profile a run
    used, in one plain line ("no profile recorded" for a run stored before profiles were)."""
    if profile is None:
        return "no profile recorded"
    described = "the default, assumed" if profile.assumed else describe_profile(profile.data)
    return f"{short_digest(profile.digest)} ({profile.origin or 'origin not recorded'}): {described}"


def thumbnail_uris(store: Store, run_id: str) -> dict[int, str]:
    """position -> data: URI of every thumbnail stored for the run."""
    return {position: uri for position, data in store.run_thumbnails(run_id).items() if (uri := jpeg_data_uri(data))}


def jpeg_data_uri(data: bytes | None) -> str | None:
    return None if not data else "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def short_names(sources: Sequence[str]) -> list[str]:
    """The shortest path ending that tells each source apart ('batch.zip/pets/cat/1.jpg' -> '1.jpg', or
    'cat/1.jpg' when another source also ends in '1.jpg')."""
    parts = [str(source).replace("\\", "/").split("/") for source in sources]
    depth = [1] * len(parts)
    for _ in range(max((len(p) for p in parts), default=0)):
        shown = ["/".join(p[-d:]) for p, d in zip(parts, depth)]
        counts = Counter(shown)
        clashes = [i for i, name in enumerate(shown) if counts[name] > 1 and depth[i] < len(parts[i])]
        if not clashes:
            return shown
        for i in clashes:
            depth[i] += 1
    return ["/".join(p[-d:]) for p, d in zip(parts, depth)]


@dataclass(frozen=True)
class StoredRun:
    run: RunInfo
    rows: pd.DataFrame                         # client.schema columns, indexed by position
    thumbnails: Mapping[int, str] = field(default_factory=dict)   # position -> data URI
    extras: Mapping[int, dict] = field(default_factory=dict)      # position -> the model's other outputs

    @property
    def class_names(self) -> list[str]:
        return list(self.run.class_names)

    def thumbnails_by_source(self) -> dict[str, str | None]:
        return {source: self.thumbnails.get(position) for position, source in self.rows["source"].items()}

    def classified_positions(self) -> list[int]:
        return self.rows.index[self.rows["error"].isna()].tolist()


def load_stored_run(store: Store, run_id: str, *, thumbnails: Mapping[int, str] | None = None) -> StoredRun | None:
    """The run with its rows, or None when it is not stored. `thumbnails` (position -> data URI) saves reading
    them again when the caller has them already (they never change once a row is stored)."""
    run = store.get_run(run_id)
    if run is None:
        return None
    rows = store.run_rows(run_id)
    if thumbnails is None:
        thumbnails = thumbnail_uris(store, run_id)
    return StoredRun(run, rows, thumbnails, store.run_extras(run_id))


def top5_of(extras: Mapping[str, object] | None) -> list[tuple[str, float]]:
    """The ImageNet top-5 the model returned for one image (empty when it returns none)."""
    extras = extras or {}
    labels, scores = extras.get(TOP5_LABELS) or (), extras.get(TOP5_SCORES) or ()
    return [(str(label), float(score)) for label, score in zip(labels, scores)]  # type: ignore[arg-type]


def table_frame(stored: StoredRun, positions: Sequence[int] | None = None) -> pd.DataFrame:
    """The results table for `positions` (every row when None): thumbnail and short name first, then the schema
    columns (the full path stays in `source`, for the detail view and the exports). Short names are worked out
    over every row, so they tell the run's files apart whichever rows are shown."""
    names = dict(zip(stored.rows.index, short_names(stored.rows["source"].tolist())))
    frame = stored.rows if positions is None else stored.rows.loc[list(positions)]
    frame = frame.copy()
    frame.insert(0, "name", [names[position] for position in frame.index])
    frame.insert(0, "thumbnail", [stored.thumbnails.get(position) for position in frame.index])
    return frame


def _export_frame(rows: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    return rows.reset_index(drop=True).reindex(columns=schema.columns(class_names))


def csv_bytes(rows: pd.DataFrame, class_names: Sequence[str]) -> bytes:
    """Every row in the CLI's columns (ground_truth, correct, correction, corrected_at, model, target, version
    included), formula-safe, through client.schema's one CSV writer."""
    return schema.to_csv_bytes(_export_frame(rows, class_names), columns=schema.columns(class_names))


def json_bytes(rows: pd.DataFrame, class_names: Sequence[str]) -> bytes:
    """Every row as a JSON list of objects in the CLI's columns (missing values as null)."""
    frame = _export_frame(rows, class_names)
    records = json.loads(frame.to_json(orient="records", force_ascii=False))
    return json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8")
