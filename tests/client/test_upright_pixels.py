"""client.images.upright_pixels: libjpeg-turbo's array for plain upright JPEGs, Pillow's image for everything else,
and the same pixels either way (the reference is Pillow's full decode, upright and in RGB)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from client.errors import ImageError
from client.images import open_image, pixels_for_model, upright_pixels, upright_rgb
from client.pixels import PixelRecipe
from tests.support import SHARED_IMAGES as PHOTOS


def pillow_pixels(data: bytes) -> np.ndarray:
    return np.asarray(upright_rgb(open_image("reference", data)))


def jpeg(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", **options)
    return out.getvalue()


def textured(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Colour ramps plus noise: chroma edges everywhere, so every upsampling and DCT choice shows."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    values = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x ^ y) & 255], axis=-1)
    values = np.clip(values + rng.integers(-40, 40, size=values.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(values).convert(mode)


VARIANTS = {
    "4:2:0": dict(subsampling=2, quality=90),
    "4:2:2": dict(subsampling=1, quality=90),
    "4:4:4": dict(subsampling=0, quality=95),
    "progressive": dict(progressive=True, quality=85),
    "optimized low quality": dict(optimize=True, quality=20),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("size", [(333, 251), (17, 9), (640, 480)])
def test_a_plain_jpeg_decodes_to_an_array_equal_to_pillows(variant, size):
    data = jpeg(textured(*size), **VARIANTS[variant])
    fast = upright_pixels("photo.jpg", data)
    assert isinstance(fast, np.ndarray) and fast.dtype == np.uint8
    np.testing.assert_array_equal(fast, pillow_pixels(data))


def test_a_greyscale_jpeg_becomes_three_equal_channels_like_pillows_conversion():
    data = jpeg(textured(120, 80, mode="L"))
    fast = upright_pixels("grey.jpg", data)
    assert isinstance(fast, np.ndarray) and fast.shape == (80, 120, 3)
    np.testing.assert_array_equal(fast, pillow_pixels(data))


def test_a_turned_photo_a_cmyk_jpeg_and_a_png_take_pillows_path():
    image = textured(90, 60)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    turned = jpeg(image, exif=exif.tobytes())
    cmyk = jpeg(image.convert("CMYK"))
    png = io.BytesIO()
    image.save(png, format="PNG")
    for name, data in {"turned.jpg": turned, "cmyk.jpg": cmyk, "plain.png": png.getvalue()}.items():
        picture = upright_pixels(name, data)
        assert isinstance(picture, Image.Image), name
        np.testing.assert_array_equal(np.asarray(picture), pillow_pixels(data))
    assert upright_pixels("turned.jpg", turned).size == (60, 90)


def test_a_cut_jpeg_is_refused_naming_the_file():
    data = jpeg(textured(200, 150))
    with pytest.raises(ImageError) as caught:
        upright_pixels("cut.jpg", data[: len(data) // 2])
    assert "cut.jpg" in str(caught.value)


def test_damage_inside_the_scan_is_decided_by_pillow_as_before():
    """libjpeg-turbo only warns about corrupt entropy-coded data; the strict decode refuses it and Pillow's decode
    (which ignores such warnings) gives the picture, so the result is what it was before the fast path."""
    data = bytearray(jpeg(textured(200, 150)))
    scan = data.index(b"\xff\xda")
    for offset in range(scan + 200, scan + 260):
        if data[offset] != 0xFF and data[offset - 1] != 0xFF:
            data[offset] ^= 0x5A
    damaged = bytes(data)
    try:
        expected = pillow_pixels(damaged)
    except ImageError:
        with pytest.raises(ImageError):
            upright_pixels("damaged.jpg", damaged)
        return
    np.testing.assert_array_equal(np.asarray(upright_pixels("damaged.jpg", damaged)), expected)


def test_the_decompression_bomb_limit_holds_on_the_fast_path():
    data = jpeg(textured(300, 200))
    with pytest.raises(ImageError, match="decompression-bomb"):
        upright_pixels("big.jpg", data, max_pixels=1000)


@pytest.mark.parametrize("resize", ["center_crop", "stretch", "letterbox"])
@pytest.mark.parametrize("resample", ["tf_bilinear", "bilinear", "lanczos"])
def test_an_array_and_a_pillow_image_prepare_the_same_tensor(resize, resample):
    picture = textured(301, 207, seed=3)
    recipe = PixelRecipe(dtype="DT_FLOAT", height=96, width=64, resize=resize, resample=resample,
                         offset=127.0, divisor=128.0)
    np.testing.assert_array_equal(recipe.prepare(np.asarray(picture)), recipe.prepare(picture))


def test_the_shared_photos_decode_equally_on_both_paths():
    photos = sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")) if PHOTOS.is_dir() else []
    if not photos:
        pytest.skip(f"the shared test photos are not at {PHOTOS}")
    fast_paths = 0
    for photo in photos:
        data = photo.read_bytes()
        picture = upright_pixels(photo.name, data)
        fast_paths += isinstance(picture, np.ndarray)
        np.testing.assert_array_equal(np.asarray(picture), pillow_pixels(data), err_msg=photo.name)
        np.testing.assert_array_equal(pixels_for_model(photo.name, data, height=128, width=128),
                                      PixelRecipe(dtype="DT_FLOAT", height=128, width=128, resize="center_crop",
                                                  resample="tf_bilinear", offset=127.0, divisor=128.0)
                                      .prepare(upright_rgb(open_image(photo.name, data))), err_msg=photo.name)
    assert fast_paths > len(photos) // 2  # the photos are mostly plain upright JPEGs: the fast path is taken
