"""The files `python -m client classify` reads besides images: --truth and --signature-config (refused by name
before any request when unreadable)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from client.signature_config import SignatureConfig
from client.truth import TruthFileError, read_truth_file

__all__ = ["signature_config_of", "truth_file_of"]


def truth_file_of(value: str, methods: Sequence[str]) -> tuple[str, bytes] | None:
    """None for a method name; else (file name, contents) of a readable truth file (raises OSError /
    TruthFileError naming it)."""
    if value in methods:
        return None
    path = Path(value)
    if not path.is_file():
        raise TruthFileError(f"{value}: no such file (or use one of {', '.join(methods)})")
    data = path.read_bytes()
    read_truth_file(str(path), data)  # refuse an unreadable file before any request
    return path.name, data


def signature_config_of(path: Path | None) -> SignatureConfig | None:
    if path is None:
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    return SignatureConfig.from_json(body)
