"""client.memory.reuse_large_buffers: after it, preparing pixels stops page-faulting its large arrays."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from client import memory

# Prepares one 224 px image 50 times (after 10 to warm up) and prints the minor page faults per image, with or
# without reuse_large_buffers() first: in a fresh process, as the setting is process-wide.
FAULTS = """
import resource, sys
import numpy as np
from client.memory import reuse_large_buffers
from client.pixels import PixelRecipe
if sys.argv[1] == "reuse":
    assert reuse_large_buffers()
recipe = PixelRecipe(dtype="DT_FLOAT", height=224, width=224, resize="center_crop", resample="tf_bilinear",
                     offset=127.0, divisor=128.0)
photo = np.random.default_rng(0).integers(0, 256, size=(408, 612, 3), dtype=np.uint8)
for _ in range(10):
    recipe.prepare(photo)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    recipe.prepare(photo)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def faults_per_image(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return float(done.stdout)


def test_preparing_pixels_stops_faulting_once_large_buffers_are_reused():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt's parameters are glibc's")
    fresh, reused = faults_per_image("fresh"), faults_per_image("reuse")
    assert fresh > 100          # a 588 KiB float32 image alone is 147 pages
    assert reused < fresh / 20  # the heap's pages are reused, not mapped afresh


def test_without_glibcs_mallopt_nothing_changes(monkeypatch):
    monkeypatch.setattr(memory, "_mallopt", lambda: None)
    assert memory.reuse_large_buffers() is False
