"""Ground truth found without asking: folder names, file names, or a CSV/JSON truth file.

    detection = detect_truth(sources, ["cat", "dog", "other"])      # method="auto"
    detection.summary   # "ground truth from folder names: 3 classes, 60 of 61 images"
    detection.truth     # {source: class}; detection.unmatched: {raw value: images} for a mapping editor

Raw values are matched to the model's classes ignoring case, separators and plural ('Cats' -> 'cat',
'golden-retrievers' -> 'golden retriever'); a `mapping` (raw value -> class, or None to ignore) decides
the rest. Images without truth stay in the results, outside the metrics. `auto` uses a truth file
when one is given, else folder names if any match a class, else file names, else none, and says so.

A truth file is at most MAX_TRUTH_BYTES and MAX_TRUTH_ROWS entries; a larger one, one nested deeper than
Python can parse, or one whose labels are not text is refused with a TruthFileError naming the file.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Iterable, Mapping, Sequence

from client.schema import csv_unsafe

__all__ = ["METHODS", "SOURCE_COLUMNS", "LABEL_COLUMNS", "MAX_TRUTH_BYTES", "MAX_TRUTH_ROWS", "TruthDetection",
           "TruthFileError", "detect_truth", "keyed_table", "lookup", "match_class", "read_truth_file",
           "truth_from_folder", "truth_from_name"]

METHODS = ("auto", "folders", "names", "file", "none")
SOURCE_COLUMNS = ("source", "file", "filename", "file_name", "path", "image", "name")
LABEL_COLUMNS = ("label", "class", "ground_truth", "truth", "category", "y")
_SEPARATORS = re.compile(r"[\s_\-]+")
_LEADING_WORD = re.compile(r"[^\W\d_]+")
# A truth file lists the images of one batch: 200,000 rows of "folder/name.jpg,label" fit in 5 MiB. Larger files
# are refused before they are parsed (a 1,000,000-row CSV costs seconds and hundreds of MiB to read).
MAX_TRUTH_BYTES = 5 * 1024 * 1024
MAX_TRUTH_ROWS = 200_000
_QUOTED_CHARS = 80   # of a key or label quoted in an error message


class TruthFileError(ValueError):
    """A truth file that cannot be read; the message names the file (and the line)."""


def _normal(text: str) -> str:
    return _SEPARATORS.sub(" ", text.strip().casefold()).strip()


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 1:
        return word[:-1]
    return word


def match_class(value: Any, class_names: Sequence[str]) -> str | None:
    """The class `value` names, ignoring case, separators and plural; None when none or several do."""
    if not isinstance(value, str) or not value.strip():
        return None
    wanted = _normal(value)
    exact = [name for name in class_names if _normal(name) == wanted]
    if exact:
        return exact[0]
    loose = [name for name in class_names if _singular(_normal(name)) == _singular(wanted)]
    return loose[0] if len(loose) == 1 else None


def _parts(source: str) -> list[str]:
    return [part for part in str(source).replace("\\", "/").split("/") if part not in ("", ".")]


def truth_from_folder(source: str) -> str | None:
    """The nearest parent folder ('x.zip/pets/dog/1.jpg' -> 'dog'); None when the parent is an archive."""
    parts = _parts(source)
    if len(parts) < 2 or parts[-2].lower().endswith(".zip"):
        return None
    return parts[-2]


def truth_from_name(source: str) -> str | None:
    """The leading word of the file name ('cat.4001.jpg' -> 'cat', 'dog_12.png' -> 'dog')."""
    parts = _parts(source)
    found = _LEADING_WORD.match(PurePosixPath(parts[-1]).stem) if parts else None
    return found.group(0) if found else None


def _pick_column(header: Sequence[str], wanted: Sequence[str]) -> int | None:
    folded = [name.strip().casefold() for name in header]
    for candidate in wanted:
        if candidate in folded:
            return folded.index(candidate)
    return None


def _quoted(value: Any) -> str:
    """repr() of a key or label for an error message (control characters escaped), cut to _QUOTED_CHARS."""
    text = repr(value)
    return text if len(text) <= _QUOTED_CHARS else text[: _QUOTED_CHARS - 1] + "…"


def _add(table: dict[str, str], where: dict[str, str], name: str, line: str, key: Any, label: Any) -> None:
    if not isinstance(key, str) or not key.strip():
        raise TruthFileError(f"{name}: {line}: no file name")
    if label is None or (isinstance(label, str) and not label.strip()):
        return  # a file listed without a label has no truth
    if not isinstance(label, (str, int, float)) or isinstance(label, bool):
        raise TruthFileError(f"{name}: {line}: the label is {type(label).__name__}, not a class name")
    key, label = csv_unsafe(key.strip()), str(csv_unsafe(label)).strip()
    if key in table and table[key] != label:
        raise TruthFileError(f"{name}: {line}: {_quoted(key)} is labelled {_quoted(label)} here but "
                             f"{_quoted(table[key])} on {where[key]}")
    table[key], where[key] = label, line


def _too_many(name: str, count: int | None = None) -> TruthFileError:
    """The error for a file over MAX_TRUTH_ROWS entries (`count` when it is known without reading on)."""
    if count is None:
        return TruthFileError(f"{name}: over the limit of {MAX_TRUTH_ROWS:,} entries for a truth file")
    return TruthFileError(f"{name}: {count:,} entries, over the limit of {MAX_TRUTH_ROWS:,} for a truth file")


def read_truth_file(name: str, data: bytes) -> dict[str, str]:
    """{file name or path: label} from a CSV with a header (source,label; file,class; ...) or a JSON
    object {"cat/1.jpg": "cat"} / list [{"source": ..., "label": ...}]. Raises TruthFileError, also for a file
    over MAX_TRUTH_BYTES or MAX_TRUTH_ROWS (checked before parsing, where it can be)."""
    if len(data) > MAX_TRUTH_BYTES:
        raise TruthFileError(f"{name}: {len(data):,} bytes, over the limit of {MAX_TRUTH_BYTES:,} bytes (5 MiB) for "
                             f"a truth file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TruthFileError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if name.lower().endswith(".json"):
        return _read_json(name, text)
    return _read_csv(name, text)


def _read_json(name: str, text: str) -> dict[str, str]:
    table: dict[str, str] = {}
    where: dict[str, str] = {}
    try:
        document = json.loads(text)
    except RecursionError:
        raise TruthFileError(f"{name}: JSON nested too deep to read (a truth file is one object or one list of "
                             "objects)") from None
    except ValueError as exc:
        raise TruthFileError(f"{name}: not valid JSON ({exc})") from None
    if isinstance(document, (dict, list)) and len(document) > MAX_TRUTH_ROWS:
        raise _too_many(name, len(document))
    if isinstance(document, dict):
        for key, label in document.items():
            _add(table, where, name, f"key {_quoted(key)}", key, label)
    elif isinstance(document, list):
        for number, item in enumerate(document, start=1):
            if not isinstance(item, dict):
                raise TruthFileError(f"{name}: item {number} is not an object with source and label")
            source_key = next((k for k in item if k.casefold() in SOURCE_COLUMNS), None)
            label_key = next((k for k in item if k.casefold() in LABEL_COLUMNS), None)
            if source_key is None or label_key is None:
                raise TruthFileError(f"{name}: item {number} needs a source key (one of {list(SOURCE_COLUMNS)}) "
                                     f"and a label key (one of {list(LABEL_COLUMNS)}); it has {sorted(item)[:10]}")
            _add(table, where, name, f"item {number}", item[source_key], item[label_key])
    else:
        raise TruthFileError(f"{name}: expected a JSON object or list, got {type(document).__name__}")
    return table


def _read_csv(name: str, text: str) -> dict[str, str]:
    table: dict[str, str] = {}
    where: dict[str, str] = {}
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows, None)
        if header is None:
            raise TruthFileError(f"{name}: the file is empty")
        source_at, label_at = _pick_column(header, SOURCE_COLUMNS), _pick_column(header, LABEL_COLUMNS)
        if source_at is None or label_at is None:
            raise TruthFileError(f"{name}: the header needs a source column (one of {list(SOURCE_COLUMNS)}) and a "
                                 f"label column (one of {list(LABEL_COLUMNS)}); it has {header[:10]}")
        entries = 0
        for record in rows:
            if not any(cell.strip() for cell in record):
                continue
            entries += 1
            if entries > MAX_TRUTH_ROWS:
                raise _too_many(name)
            line = f"line {rows.line_num}"
            if len(record) <= max(source_at, label_at):
                raise TruthFileError(f"{name}: {line}: {len(record)} fields, expected {len(header)}")
            _add(table, where, name, line, record[source_at], record[label_at])
    except csv.Error as exc:
        raise TruthFileError(f"{name}: line {rows.line_num}: {exc}") from None
    return table


def _key(path: str) -> str:
    return "/".join(_parts(path))


def lookup(source: str, table: Mapping[str, str]) -> str | None:
    """The label for `source` from a truth table keyed by file name or by a path ending: the longest
    matching ending wins ('batch.zip/dog/2.png' finds 'dog/2.png' before '2.png')."""
    keyed = keyed_table(table)
    parts = _parts(source)
    for start in range(len(parts)):
        found = keyed.get("/".join(parts[start:]))
        if found is not None:
            return found
    return None


class _Normalised(dict):
    _normalised = True


def _normalised(table: Mapping[str, str]) -> _Normalised:
    return _Normalised((_key(key), label) for key, label in table.items())


def keyed_table(table: Mapping[str, str]) -> Mapping[str, str]:
    """The truth table with its keys made into path endings as `lookup` matches them; `lookup` and `detect_truth`
    take it as it is, so a caller that keeps it (e.g. across reruns of a page) does that work once."""
    return table if getattr(table, "_normalised", False) else _normalised(table)


@dataclass(frozen=True)
class TruthDetection:
    """What ground truth was found and how: `truth` {source: class}, `raw` {source: value as found},
    `unmatched` {raw value: images} that no class or mapping took, `mapping` {raw value: class or None}
    as applied, and a one-line `summary`."""

    method: str
    raw: dict[str, str] = field(default_factory=dict)
    truth: dict[str, str] = field(default_factory=dict)
    unmatched: dict[str, int] = field(default_factory=dict)
    summary: str = ""
    mapping: dict[str, str | None] = field(default_factory=dict)


_WHERE = {"folders": "folder names", "names": "file names"}


def _apply(method: str, raw: dict[str, str], class_names: Sequence[str], mapping: Mapping[str, str | None],
           total: int, origin: str) -> TruthDetection:
    applied: dict[str, str | None] = {}
    for value in dict.fromkeys(raw.values()):
        applied[value] = mapping[value] if value in mapping else match_class(value, class_names)
    truth = {source: applied[value] for source, value in raw.items() if applied[value] is not None}
    unmatched = Counter(value for value in raw.values() if value not in mapping and applied[value] is None)
    classes = len(set(truth.values()))
    summary = (f"ground truth from {origin}: {classes} class{'es' if classes != 1 else ''}, "
               f"{len(truth)} of {total} image{'s' if total != 1 else ''}")
    if unmatched:
        shown = ", ".join(f"{value!r} ({count})" for value, count in unmatched.most_common(5))
        more = f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
        summary += f"; {sum(unmatched.values())} without a class: {shown}{more}"
    return TruthDetection(method, raw, truth, dict(unmatched), summary, applied)  # type: ignore[arg-type]


def detect_truth(sources: Iterable[str], class_names: Sequence[str], *, method: str = "auto",
                 truth_file: Mapping[str, str] | tuple[str, bytes | Mapping[str, str]] | None = None,
                 mapping: Mapping[str, str | None] | None = None) -> TruthDetection:
    """Ground truth for `sources` by `method` (auto, folders, names, file, none); see the module doc.

    `truth_file` is a table from read_truth_file, a (name, bytes) pair to read, or a (where it came from, table)
    pair (e.g. a dataset's truth: the summary names it). Raises ValueError
    for an unknown method, a mapping to a class the model lacks, or method="file" without a file.
    """
    if method not in METHODS:
        raise ValueError(f"truth method must be one of {list(METHODS)}, not {method!r}")
    chosen = dict(mapping or {})
    strange = {value: cls for value, cls in chosen.items() if cls is not None and cls not in class_names}
    if strange:
        raise ValueError(f"mapping names classes the model does not have: {strange} (classes: {list(class_names)})")
    names = list(dict.fromkeys(str(source) for source in sources))
    if method == "none":
        return TruthDetection("none", summary="ground truth not used")
    origin = "the truth file"
    if isinstance(truth_file, tuple):
        origin = truth_file[0]
        table = truth_file[1] if isinstance(truth_file[1], Mapping) else read_truth_file(*truth_file)
    else:
        table = truth_file
    if method == "file" or (method == "auto" and table is not None):
        if table is None:
            raise ValueError("truth method 'file' needs a truth file")
        keyed = keyed_table(table)
        raw = {s: value for s in names if (value := lookup(s, keyed)) is not None}
        return _apply("file", raw, class_names, chosen, len(names), origin)
    candidates = [method] if method != "auto" else ["folders", "names"]
    readers = {"folders": truth_from_folder, "names": truth_from_name}
    results = []
    for candidate in candidates:
        raw = {s: value for s in names if (value := readers[candidate](s)) is not None}
        results.append(_apply(candidate, raw, class_names, chosen, len(names), _WHERE[candidate]))
    if method != "auto":
        return results[0]
    best = max(results, key=lambda r: len(r.truth))  # folders win a tie: they come first
    if best.truth:
        return best
    return TruthDetection("none", summary=f"no ground truth found: neither folder nor file names match the classes "
                                          f"{', '.join(class_names)}")
