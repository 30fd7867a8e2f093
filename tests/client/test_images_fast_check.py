"""The cheap check for JPEGs sent as they are (decoded at 1/8 scale): it refuses exactly what a full decode
refuses, and everything that needs converting still goes through the full decode."""
from __future__ import annotations

import io

import pytest
from PIL import Image, JpegImagePlugin

import client.images
from client import ImageError
from client.images import encode_for_wire


def jpeg(mode: str = "RGB", size=(160, 120), **options) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 60).convert(mode).save(out, format="JPEG", quality=90, **options)
    return out.getvalue()


def full_decode_fails(data: bytes) -> bool:
    try:
        Image.open(io.BytesIO(data)).load()
    except (OSError, SyntaxError, ValueError, EOFError):
        return True
    return False


def wire_check_fails(data: bytes) -> bool:
    try:
        encode_for_wire("x.jpg", data)
    except ImageError:
        return True
    return False


@pytest.fixture
def fast_checks(monkeypatch):
    """The sources that took the cheap check."""
    sources = []
    original = client.images._check_jpeg_decodes

    def recording(source, image):
        sources.append(source)
        return original(source, image)

    monkeypatch.setattr(client.images, "_check_jpeg_decodes", recording)
    return sources


@pytest.fixture
def draft_calls(monkeypatch):
    calls = []
    original = JpegImagePlugin.JpegImageFile.draft

    def counting(self, mode, size):
        calls.append(size)
        return original(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", counting)
    return calls


@pytest.mark.parametrize("options", [{}, {"progressive": True}, {"subsampling": 0}], ids=str)
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_jpeg_cut_anywhere_is_refused_exactly_when_a_full_decode_refuses_it(mode, options, draft_calls):
    data = jpeg(mode, **options)
    verdicts = []
    for cut in range(200, len(data) + 1, max(1, len(data) // 60)):
        piece = data[:cut]
        verdicts.append((cut, wire_check_fails(piece), full_decode_fails(piece)))
    assert [(cut, fast) for cut, fast, _ in verdicts] == [(cut, full) for cut, _, full in verdicts]
    assert sum(fails for _, fails, _ in verdicts) >= len(verdicts) // 2  # the cuts do break most pieces
    assert draft_calls  # the fast path was the one taken


def test_a_truncated_jpeg_names_the_file_on_the_fast_path(draft_calls):
    data = jpeg()
    with pytest.raises(ImageError, match=r"^photos/cut\.jpg: corrupt or truncated image: ") as caught:
        encode_for_wire("photos/cut.jpg", data[: len(data) * 2 // 3])
    assert caught.value.source == "photos/cut.jpg"
    assert draft_calls == [(20, 15)]  # 1/8 of 160x120


def test_damaged_scan_data_is_refused_exactly_when_a_full_decode_refuses_it():
    verdicts = []
    for seed in range(16):
        data = bytearray(jpeg(progressive=seed % 2 == 1))
        start = data.index(b"\xff\xda")  # start of scan: damage the coded pixels, not the header
        position = start + 20 + (seed * 997) % (len(data) - start - 40)
        if seed < 8:
            data[position] ^= 0x10  # one flipped bit: libjpeg decodes it (a wrong block), like a full decode
        else:  # marker-like bytes at four places in the scan
            for step in range(4):
                spot = start + 20 + (seed * 997 + step * 131) % (len(data) - start - 40)
                data[spot] = 0xFF if step % 2 else 0xD9 - seed
        verdicts.append((seed, wire_check_fails(bytes(data)), full_decode_fails(bytes(data))))
    assert [(seed, fast) for seed, fast, _ in verdicts] == [(seed, full) for seed, _, full in verdicts]
    assert {fails for _, fails, _ in verdicts} == {True, False}  # both outcomes were exercised


def test_a_plain_jpeg_is_sent_untouched_after_the_cheap_check(draft_calls, fast_checks):
    data = jpeg(size=(400, 300))
    assert encode_for_wire("a.jpg", data) is data
    assert draft_calls == [(50, 37)]  # 1/8 of 400x300
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
