"""Pillow checks and normalisation before sending; client-side pixels for float inputs."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from client import ImageError, ImageScaling
from client.images import encode_for_wire, pixels_for_model


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_plain_rgb_jpeg_and_png_are_sent_untouched():
    for fmt in ("JPEG", "PNG", "BMP"):
        data = encode(Image.new("RGB", (40, 30), (200, 10, 10)), fmt)
        assert encode_for_wire("a", data) is data
    grey = encode(Image.new("L", (40, 30), 99), "JPEG")
    assert encode_for_wire("g.jpg", grey) is grey


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (60, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    sent = decoded(encode_for_wire("r.jpg", encode(image, "JPEG", exif=exif.tobytes())))
    assert sent.format == "JPEG" and sent.size == (20, 60)
    top_pixel = sent.getpixel((10, 2))
    assert top_pixel[0] > 200 and top_pixel[2] < 60  # the left strip is now on top


@pytest.mark.parametrize("mode, fmt", [("CMYK", "JPEG"), ("P", "PNG"), ("P", "GIF"), ("RGBA", "PNG"),
                                       ("LA", "PNG"), ("I;16", "PNG"), ("RGB", "WEBP"), ("RGB", "TIFF")])
def test_other_modes_and_formats_become_rgb_jpeg(mode, fmt):
    base = Image.new("RGB", (32, 16), (10, 200, 30))
    if mode == "I;16":
        image = Image.fromarray(np.full((16, 32), 40000, dtype=np.uint16))
        assert image.mode.startswith("I;16")
    else:
        image = base.convert(mode)
    sent = decoded(encode_for_wire(f"x.{fmt.lower()}", encode(image, fmt)))
    assert (sent.format, sent.mode, sent.size) == ("JPEG", "RGB", (32, 16))
    if mode == "I;16":
        assert abs(sent.getpixel((5, 5))[0] - round(40000 / 65535 * 255)) <= 2  # rescaled, not clipped white


def test_transparent_pixels_are_composited_on_white():
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    sent = decoded(encode_for_wire("t.png", encode(image, "PNG")))
    assert all(channel > 245 for channel in sent.getpixel((4, 4)))


def test_large_images_are_downscaled_to_1024():
    big = encode(Image.new("RGB", (3000, 1500), (1, 2, 3)), "JPEG")
    sent = decoded(encode_for_wire("big.jpg", big))
    assert sent.size == (1024, 512)


@pytest.mark.parametrize("data, reason", [
    (b"hello, this is a text file", r"^notes/readme.txt: not an image \(Pillow cannot identify the file format\)$"),
    (b"", r"^notes/readme.txt: empty file \(0 bytes\), not an image$"),
])
def test_non_images_raise_image_error_naming_the_file(data, reason):
    with pytest.raises(ImageError, match=reason) as caught:
        encode_for_wire("notes/readme.txt", data)
    assert caught.value.source == "notes/readme.txt"
    assert str(caught.value).startswith("notes/readme.txt: ")


def test_truncated_jpeg_is_an_image_error():
    data = encode(Image.effect_noise((200, 200), 50).convert("RGB"), "JPEG")
    with pytest.raises(ImageError, match="corrupt or truncated") as caught:
        encode_for_wire("cut.jpg", data[: len(data) // 2])
    assert caught.value.source == "cut.jpg"


def test_decompression_bomb_limit(monkeypatch):
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageError, match="exceeds the decompression-bomb limit of 5000 pixels"):
        encode_for_wire("bomb.png", data, max_pixels=5000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # Pillow's own error beyond twice its limit
    with pytest.raises(ImageError, match="decompression-bomb"):
        encode_for_wire("bomb.png", data)


def test_pixels_crop_resize_and_scale():
    # 300x200 image: left third black, rest white. Crop side = 200*128//160 = 160, left=(300-160+1)//2 = 70.
    array = np.full((200, 300, 3), 255, dtype=np.uint8)
    array[:, :100] = 0
    pixels = pixels_for_model("a.png", encode(Image.fromarray(array), "PNG"), height=128, width=128)
    assert pixels.shape == (128, 128, 3) and pixels.dtype == np.float32
    # Crop columns 70..229 hold 30 black columns -> the first ~24 of 128 output columns are black.
    assert np.allclose(pixels[:, :20], -127 / 128)
    assert np.allclose(pixels[:, 30:], 1.0)
    custom = pixels_for_model("a.png", encode(Image.fromarray(array), "PNG"), height=16, width=16,
                              scaling=ImageScaling(offset=0.0, scale=255.0, crop_fraction=1.0))
    assert np.allclose(custom[:, -1], 1.0) and np.allclose(custom[:, 0], 0.0)
    assert custom.min() >= 0.0 and custom.max() <= 1.0


def test_pixels_for_unusable_image_raise_image_error():
    with pytest.raises(ImageError, match="not an image"):
        pixels_for_model("x.bin", b"\x00" * 100, height=8, width=8)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_corrupt_exif_block_is_ignored_not_fatal(fmt):
    """Pillow raises SyntaxError reading this EXIF; the picture itself is fine and is still sent."""
    data = encode(Image.new("RGB", (20, 10), (200, 0, 0)), fmt, exif=b"MM\x00\xbc\x00\x00\x00\x08" + b"\0" * 20)
    sent = decoded(encode_for_wire("odd-exif.img", data))
    assert sent.size == (20, 10) and sent.getpixel((5, 5))[0] > 180
    assert pixels_for_model("odd-exif.img", data, height=4, width=4).shape == (4, 4, 3)


def test_greyscale_bmp_is_re_encoded_for_tensorflows_bmp_decoder():
    bmp = encode(Image.new("L", (8, 8), 100), "BMP")
    sent = decoded(encode_for_wire("grey.bmp", bmp))
    assert (sent.format, sent.mode) == ("JPEG", "RGB")
    rgb_bmp = encode(Image.new("RGB", (8, 8), (1, 2, 3)), "BMP")
    assert encode_for_wire("rgb.bmp", rgb_bmp) is rgb_bmp


def test_palette_with_transparency_is_flattened_on_white():
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    sent = decoded(encode_for_wire("p.png", encode(palette, "PNG", transparency=0)))
    assert all(channel > 245 for channel in sent.getpixel((4, 4)))  # index 0 is transparent -> white


def test_bomb_error_is_one_clear_message_naming_the_file():
    data = encode(Image.new("RGB", (300, 300)), "PNG")
    with pytest.raises(ImageError) as caught:
        pixels_for_model("huge.png", data, height=8, width=8, max_pixels=300 * 300 - 1)
    assert str(caught.value) == ("huge.png: 300x300 pixels exceeds the decompression-bomb limit of "
                                 "89999 pixels")
