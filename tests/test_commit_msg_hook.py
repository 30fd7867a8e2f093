"""scripts/hooks/commit-msg: a subject of at most 72 characters, then a blank line before the body."""
from __future__ import annotations

import subprocess

import pytest

from tests.support import ROOT

HOOK = ROOT / "scripts" / "hooks" / "commit-msg"


def check(tmp_path, message: str) -> subprocess.CompletedProcess:
    path = tmp_path / "COMMIT_EDITMSG"
    path.write_text(message)
    return subprocess.run(["bash", str(HOOK), str(path)], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("message", ["x" * 72 + "\n", "store: one digest\n\nThe body may be long " + "y" * 200 + "\n",
                                     "# a comment git strips\nsubject\n"])
def test_a_short_subject_passes(tmp_path, message):
    assert check(tmp_path, message).returncode == 0


@pytest.mark.parametrize("message, said", [
    ("x" * 73 + "\n", "the subject is 73 characters"),
    ("\n\nbody only\n", "the subject line is empty"),
    ("subject\nbody at once\n", "leave the second line blank")])
def test_a_long_empty_or_crowded_subject_is_refused(tmp_path, message, said):
    result = check(tmp_path, message)
    assert result.returncode == 1 and said in result.stderr
