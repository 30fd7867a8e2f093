"""A stored run's thumbnail (dashboard.runs.thumbnail_jpeg) never decodes a huge image in full: a decompression bomb
is refused from its header, measured in a fresh process. (The reduced-scale JPEG decode: test_runner.py.)"""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image

from dashboard.runs.thumbnail_jpeg import MAX_FULL_DECODE_PIXELS
from tests.support import ROOT


def huge_png(side: int = 12000) -> bytes:
    """A side×side RGB PNG (12000² ≈ 420 KB) written row by row, so making it never holds the pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\x40\x80\xc0" * side   # filter byte "none", then one grey-blue row
    packer = zlib.compressobj(9)
    compressed = [packer.compress(row) for _ in range(side)]
    compressed.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(compressed)) + chunk(b"IEND", b"")


PEAK_RSS_CHECK = """
import resource, sys
from dashboard.runs.thumbnail_jpeg import thumbnail_jpeg
data = sys.stdin.buffer.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
thumbnail = thumbnail_jpeg(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(thumbnail is None, (after - before) // 1024)
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_12000_square_png_is_refused_from_its_header_without_decoding_it():
    data = huge_png()
    assert len(data) < 600_000
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (12000, 12000) and image.width * image.height > MAX_FULL_DECODE_PIXELS
    # A fresh process, so its peak RSS is this call's: a full decode would add ~430 MB (RGB) or more.
    result = subprocess.run([sys.executable, "-c", PEAK_RSS_CHECK], input=data, capture_output=True, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    refused, grown_mb = result.stdout.decode().split()
    assert refused == "True"
    assert int(grown_mb) < 50, f"thumbnail of a 12000x12000 PNG grew the process by {grown_mb} MB"
