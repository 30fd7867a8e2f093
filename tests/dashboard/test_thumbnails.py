"""Thumbnails never decode a huge image in full, and are made on worker threads while the client reads."""
from __future__ import annotations

import base64
import io
import struct
import subprocess
import sys
import threading
import zlib

import pytest
from PIL import Image

from dashboard import thumbnails
from dashboard.thumbnails import MAX_SOURCE_PIXELS, ThumbnailPool, thumbnail_data_uri
from tests.support import ROOT, png_bytes


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
from dashboard.thumbnails import thumbnail_data_uri
data = sys.stdin.buffer.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
uri = thumbnail_data_uri(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(uri is None, (after - before) // 1024)
"""


@pytest.mark.timeout(120)
def test_a_12000_square_png_is_refused_from_its_header_without_decoding_it():
    data = huge_png()
    assert len(data) < 600_000
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (12000, 12000) and image.width * image.height > MAX_SOURCE_PIXELS
    # A fresh process, so its peak RSS is this call's: a full decode would add ~430 MB (RGB) or more.
    result = subprocess.run([sys.executable, "-c", PEAK_RSS_CHECK], input=data, capture_output=True, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    refused, grown_mb = result.stdout.decode().split()
    assert refused == "True"
    assert int(grown_mb) < 50, f"thumbnail of a 12000x12000 PNG grew the process by {grown_mb} MB"


def test_a_large_jpeg_is_decoded_at_reduced_scale_into_a_small_thumbnail():
    out = io.BytesIO()
    Image.new("RGB", (6000, 4000), (30, 120, 200)).save(out, format="JPEG", quality=70)
    uri = thumbnail_data_uri(out.getvalue())
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (72, 48)


def test_the_pool_makes_thumbnails_on_worker_threads_from_the_bytes_the_client_reads(monkeypatch):
    threads: list[str] = []
    makers: list[str] = []

    def recording_thumbnail(data: bytes) -> str | None:
        makers.append(threading.current_thread().name)
        return thumbnail_data_uri(data)

    monkeypatch.setattr(thumbnails, "thumbnail_data_uri", recording_thumbnail)

    def loader(colour):
        def load() -> bytes:
            threads.append(threading.current_thread().name)
            return png_bytes(colour, size=(300, 200))
        return load

    def broken() -> bytes:
        raise OSError("b.zip/x.jpg: cannot be read")

    items = [("red.png", loader((200, 0, 0))), ("x.jpg", broken), ("blue.png", loader((0, 0, 200)))]
    with ThumbnailPool(len(items), limit=1) as pool:
        wrapped = pool.wrap(items)
        assert [name for name, _ in wrapped] == ["red.png", "x.jpg", "blue.png"]
        assert wrapped[0][1]() == png_bytes((200, 0, 0), size=(300, 200))  # the bytes pass through unchanged
        with pytest.raises(OSError, match="cannot be read"):
            wrapped[1][1]()
        wrapped[2][1]()
        uris = pool.uris()
    # One per item; past `limit` none is made; an item whose loader failed has none.
    assert uris[0].startswith("data:image/jpeg;base64,") and uris[1:] == [None, None]
    assert len(threads) == 2
    assert len(makers) == 1 and makers[0].startswith("thumbnails")  # not the caller's (page's) thread
