"""History's list: one row per classify run and one row per comparison (its sides folded into it), each with the
address that opens it. Pure (no streamlit); dashboard.history.view draws it.

A comparison's row names the comparison's own id and opens `?comparison=<id>` on Compare; its accuracy cell is
empty, its "sides" cell gives each side's accuracy and its "verdict" cell the verdict (dashboard.runs.verdicts,
the rule Compare applies). A compare run that belongs to no stored comparison keeps a row of its own, opening
`?run=<id>` on Compare."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Mapping, Sequence

import pandas as pd

from dashboard.plain import visible
from dashboard.runs.verdicts import comparison_verdict
from dashboard.runs.results import profile_text
from client.store.database import Comparison, RunSummary

__all__ = ["Entry", "entries", "entries_table", "ENTRY_COLUMNS", "percent", "sides_text", "verdict_text",
           "verdict_key", "RUNNING"]

ENTRY_COLUMNS = ["open", "run", "time", "kind", "model", "target", "version", "status", "images", "errors",
                 "accuracy", "corrections", "verdict", "sides", "signature", "profile"]
RUNNING = "running: the verdict comes when every side has ended"
_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class Entry:
    """One History row: a classify run, a comparison (sides in A, B... order) or a compare run in none."""
    id: str
    kind: str                          # "classify", "comparison" or "compare"
    created_at: datetime
    sides: tuple[RunSummary, ...]

    @property
    def query(self) -> dict[str, str]:
        """The page's query that opens it: {"comparison": id} or {"run": id}."""
        if not _ID.fullmatch(self.id):
            raise ValueError(f"not a run or comparison id: {self.id!r}")
        return {"comparison" if self.kind == "comparison" else "run": self.id}

    @property
    def page_kind(self) -> str:
        """Which page opens it: "classify" or "compare"."""
        return "classify" if self.kind == "classify" else "compare"


def entries(shown: Sequence[RunSummary], everything: Sequence[RunSummary],
            comparisons_of_run: Callable[[str], Sequence[Comparison]]) -> list[Entry]:
    """The rows for the `shown` runs, newest first: a comparison appears once, where its newest shown side would
    be, with every side (read from `everything`); `comparisons_of_run(run_id)` is the store's lookup, asked once
    per compare run not already covered by a comparison found before."""
    by_id = {s.run.id: s for s in everything}
    covered: set[str] = set()
    listed: list[Entry] = []
    for summary in shown:
        run = summary.run
        if run.id in covered:
            continue
        if run.kind != "compare":
            listed.append(Entry(run.id, run.kind, run.created_at, (summary,)))
            continue
        holding = list(comparisons_of_run(run.id))
        if not holding:
            listed.append(Entry(run.id, "compare", run.created_at, (summary,)))
            continue
        for comparison in holding:
            members = (comparison.baseline_run_id, *comparison.other_run_ids)
            if any(member in covered for member in members):
                continue
            covered.update(members)
            sides = tuple(by_id[member] for member in members if member in by_id)
            listed.append(Entry(comparison.id, "comparison", comparison.created_at, sides))
    return listed


def percent(share: float | None) -> str:
    return "no truth" if share is None else f"{100 * share:.1f}%"


def sides_text(sides: Sequence[RunSummary]) -> str:
    """'A 91.2% → B 98.2% (+7.0 points)': each side's accuracy, A first."""
    letters = "ABCDEFGHIJ"
    parts = [f"{letters[i] if i < len(letters) else i + 1} {percent(s.accuracy)}" for i, s in enumerate(sides)]
    text = " → ".join(parts)
    if len(sides) == 2 and sides[0].accuracy is not None and sides[1].accuracy is not None:
        text += f" ({100 * (sides[1].accuracy - sides[0].accuracy):+.1f} points)"
    return text


def verdict_key(entry: Entry) -> tuple:
    """What a comparison's verdict depends on: each side's id, status, counts and corrections (a correction, a
    retry or the end of a run changes it); equal keys give equal verdicts."""
    return tuple((s.run.id, s.run.status, s.run.done, s.run.errors, s.corrections, s.truth_known, s.correct)
                 for s in entry.sides)


def verdict_text(entry: Entry, rows_of: Callable[[str], pd.DataFrame]) -> str:
    """A comparison's verdict (dashboard.runs.verdicts.comparison_verdict over its sides' stored rows, baseline
    first), RUNNING while a side runs, "" for any other row."""
    if entry.kind != "comparison" or len(entry.sides) < 2:
        return ""
    if not all(s.run.finished for s in entry.sides):
        return RUNNING
    return comparison_verdict([rows_of(s.run.id) for s in entry.sides])


def _joined(values: Iterable[object]) -> str:
    return " / ".join(dict.fromkeys(str(v) for v in values))


def _row(entry: Entry, address: str, verdict: str) -> dict:
    sides = entry.sides
    if entry.kind != "comparison":
        [summary] = sides
        run = summary.run
        return {"open": address, "run": entry.id, "time": entry.created_at, "kind": entry.kind,
                "model": visible(run.model), "target": visible(run.target),
                "version": "" if run.version is None else str(run.version), "status": run.status,
                "images": run.done, "errors": run.errors,
                "accuracy": None if summary.accuracy is None else 100 * summary.accuracy,
                "corrections": summary.corrections, "verdict": "", "sides": "", "signature": run.signature_digest or "",
                "profile": visible(profile_text(run.profile))}
    runs = [s.run for s in sides]
    return {"open": address, "run": entry.id, "time": entry.created_at, "kind": "comparison",
            "model": visible(_joined(r.model for r in runs)),
            "target": visible(" vs ".join(r.target for r in runs)),
            "version": " vs ".join("?" if r.version is None else str(r.version) for r in runs),
            "status": _joined(r.status for r in runs), "images": max((r.done for r in runs), default=0),
            "errors": sum(r.errors for r in runs), "accuracy": None,
            "corrections": sum(s.corrections for s in sides), "verdict": verdict, "sides": sides_text(sides),
            "signature": _joined(r.signature_digest or "" for r in runs),
            "profile": visible(_joined(profile_text(r.profile) for r in runs))}


def entries_table(listed: Sequence[Entry], address: Callable[[Entry], str],
                  verdicts: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per entry, in order: `open` is address(entry); accuracy is 0–100 (empty without truth, and for a
    comparison, whose "sides" cell gives each side's); `verdicts`: entry id -> verdict text (verdict_text);
    versions are text; times in UTC; `profile` is the model profile each run used
    (dashboard.runs.results.profile_text; a comparison's sides' distinct ones)."""
    verdicts = verdicts or {}
    frame = pd.DataFrame([_row(entry, address(entry), visible(verdicts.get(entry.id, ""))) for entry in listed],
                         columns=ENTRY_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.astype({"images": "int64", "errors": "int64", "accuracy": "float64", "corrections": "int64"})
