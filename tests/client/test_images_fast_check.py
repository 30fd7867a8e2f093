"""The structural check for JPEGs sent as they are (no decode): it refuses exactly the cuts a full decode refuses,
and everything that needs converting still goes through the full decode."""
from __future__ import annotations

import io

import pytest
from PIL import Image

import client.images
from client import ImageError
from client.images import encode_for_wire
from tests.support import pillow_full_decode_fails


def jpeg(mode: str = "RGB", size=(160, 120), **options) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 60).convert(mode).save(out, format="JPEG", quality=90, **options)
    return out.getvalue()


def wire_check_fails(data: bytes) -> bool:
    try:
        encode_for_wire("x.jpg", data)
    except ImageError:
        return True
    return False


@pytest.fixture
def fast_checks(monkeypatch):
    """The sources that took the structural check (sent as they are)."""
    sources = []
    original = client.images._check_jpeg_complete

    def recording(source, data):
        sources.append(source)
        return original(source, data)

    monkeypatch.setattr(client.images, "_check_jpeg_complete", recording)
    return sources


def with_exif_thumbnail(data: bytes) -> bytes:
    """`data` with a whole small JPEG (its own SOS and EOI markers) in an APP1 segment, as cameras write."""
    small = jpeg(size=(32, 24))
    payload = b"Exif\x00\x00" + small
    return data[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


@pytest.mark.parametrize("exif_thumbnail", [False, True], ids=["plain", "exif-thumbnail"])
@pytest.mark.parametrize("options", [{}, {"progressive": True}, {"subsampling": 0}], ids=str)
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_jpeg_cut_anywhere_is_refused_exactly_when_a_full_decode_refuses_it(mode, options, exif_thumbnail,
                                                                             pillow_loads):
    data = jpeg(mode, **options)
    data = with_exif_thumbnail(data) if exif_thumbnail else data
    cuts = [*range(0, len(data), max(1, len(data) // 80)), len(data) - 2, len(data) - 1, len(data)]
    verdicts = [(cut, wire_check_fails(data[:cut]), pillow_full_decode_fails(data[:cut])) for cut in cuts]
    pillow_loads.clear()  # the full pillow_loads above were the reference; the check itself pillow_loads nothing
    for cut in cuts:
        wire_check_fails(data[:cut])
    assert pillow_loads == []
    assert [(cut, fast) for cut, fast, _ in verdicts] == [(cut, full) for cut, _, full in verdicts]
    assert verdicts[-1][1:] == (False, False) and sum(fails for _, fails, _ in verdicts) == len(verdicts) - 1


def test_stray_bytes_between_segments_are_skipped_as_libjpeg_skips_them():
    data = jpeg()
    table = data.index(b"\xff\xdb")  # the first quantisation table: put three stray bytes before it
    padded = data[:table] + b"\x00\x00\x00" + data[table:]
    assert not pillow_full_decode_fails(padded)
    assert encode_for_wire("padded.jpg", padded) is padded
    with pytest.raises(ImageError, match="cut short"):
        encode_for_wire("padded.jpg", padded[:-200])


def test_a_truncated_jpeg_names_the_file_and_the_reason():
    data = jpeg()
    with pytest.raises(ImageError) as caught:
        encode_for_wire("photos/cut.jpg", data[: len(data) * 2 // 3])
    assert str(caught.value) == ("photos/cut.jpg: corrupt or truncated image: the JPEG ends before its "
                                 "end-of-image marker (the file is cut short)")
    assert caught.value.source == "photos/cut.jpg"


def test_damaged_scan_data_is_sent_for_the_server_to_judge(fast_checks, pillow_loads):
    """Damage inside the coded data is not looked for here (that needs a decode): such a JPEG goes out as it
    is, and the server's decoder refuses it (tests/client/test_integration.py, one row per damaged image)."""
    data = bytearray(jpeg())
    start = data.index(b"\xff\xda")
    data[start + 40] = 0xFF
    data[start + 41] = 0xC7  # an unsupported SOF marker inside the scan: a full decode refuses it
    assert pillow_full_decode_fails(bytes(data))
    pillow_loads.clear()
    assert encode_for_wire("damaged.jpg", bytes(data)) == bytes(data)
    assert fast_checks == ["damaged.jpg"] and pillow_loads == []


def test_a_plain_jpeg_is_sent_untouched_without_decoding(fast_checks, pillow_loads):
    data = jpeg(size=(400, 300))
    assert encode_for_wire("a.jpg", data) is data
    assert pillow_loads == []
    assert fast_checks == ["a.jpg"]


def test_jpegs_that_need_work_skip_the_cheap_check_and_are_converted(fast_checks):
    exif = Image.Exif()
    exif[0x0112] = 3  # upside down
    rotated = jpeg(exif=exif.tobytes())
    cmyk = jpeg("CMYK")
    big = jpeg(size=(1500, 100))
    for name, data in [("rot.jpg", rotated), ("cmyk.jpg", cmyk), ("big.jpg", big)]:
        sent = encode_for_wire(name, data)
        assert sent != data
        image = Image.open(io.BytesIO(sent))
        assert (image.format, image.mode) == ("JPEG", "RGB")
    assert Image.open(io.BytesIO(encode_for_wire("big.jpg", big))).size == (1024, 68)
    assert fast_checks == []  # these were fully decoded, then re-encoded


def test_a_jpeg_over_the_bomb_limit_is_refused_before_decoding(fast_checks):
    with pytest.raises(ImageError, match=r"^huge\.jpg: 160x120 pixels exceeds the decompression-bomb limit of "
                                         r"19199 pixels$"):
        encode_for_wire("huge.jpg", jpeg(), max_pixels=160 * 120 - 1)
    assert fast_checks == []


def test_a_truncated_png_still_fails_its_full_decode(fast_checks):
    out = io.BytesIO()
    Image.effect_noise((120, 90), 60).convert("RGB").save(out, format="PNG")
    data = out.getvalue()
    with pytest.raises(ImageError, match=r"^cut\.png: corrupt or truncated image: "):
        encode_for_wire("cut.png", data[: len(data) // 2])
    assert fast_checks == []
