"""`python -m pets.build --output DIR` from a clean directory: a complete, byte-identical model tree."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from tensorflow.core.protobuf import fingerprint_pb2

from tests.support import ROOT


def _fingerprint_without_uuid(path) -> bytes:
    """fingerprint.pb holds content hashes plus a random per-export uuid; only the uuid may differ."""
    fingerprint = fingerprint_pb2.FingerprintDef.FromString(path.read_bytes())
    assert fingerprint.uuid and fingerprint.saved_model_checksum, path
    fingerprint.ClearField("uuid")
    return fingerprint.SerializeToString(deterministic=True)


def _digests(directory):
    """sha1 of each file under the version directories (fingerprint.pb minus its random uuid)."""
    def content(path):
        return _fingerprint_without_uuid(path) if path.name == "fingerprint.pb" else path.read_bytes()

    return {str(path.relative_to(directory)): hashlib.sha1(content(path)).hexdigest()
            for version in ("1", "2") for path in sorted((directory / version).rglob("*")) if path.is_file()}


@pytest.mark.slow
def test_build_cli_is_deterministic(tmp_path, pets_build_dir):
    output = tmp_path / "pets-out"
    result = subprocess.run([sys.executable, "-m", "pets.build", "--output", str(output)], cwd=ROOT,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "built in" in result.stdout and "version 2 (224 px)" in result.stdout
    assert f'base_path: "{output.resolve()}"' in (output / "models.config").read_text()
    built = _digests(output)
    assert {"1/saved_model.pb", "2/saved_model.pb", "1/fingerprint.pb", "1/variables/variables.index",
            "2/variables/variables.index"} <= set(built)
    assert not any(name.startswith(".") for name in os.listdir(output))  # no staging leftovers
    assert built == _digests(pets_build_dir), "two builds from the same inputs differ"
