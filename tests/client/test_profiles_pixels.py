"""Pixel preparation by a profile, step by step against Pillow and NumPy written out by hand: resize (stretch,
centre crop, letterbox), channel order, scale, mean/std, layout, dtypes; what the model saw; EXIF through the plan."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from client import ModelProfile
from client.images import pixels_for_model
from client.plan import ClassifyPlan
from pets.reference_preprocessing import crop_resize_scale
from tests.client.profile_fakes import signature

RNG = np.random.default_rng(19)
PHOTO = Image.fromarray(RNG.integers(0, 256, size=(90, 120, 3), dtype=np.uint8))  # 120 wide, 90 high


def prepared(data: dict, shape=(-1, 32, 40, 3), dtype="DT_FLOAT", image=PHOTO) -> np.ndarray:
    return ModelProfile.from_dict(data).prepare(image, dtype=dtype, shape=shape)


def png(image: Image.Image, **save) -> bytes:
    out = io.BytesIO()
    image.save(out, format=save.pop("format", "PNG"), **save)
    return out.getvalue()


def test_the_pets_preset_is_the_pets_graphs_preparation():
    """Against pets' own NumPy twin of its graph (pets/reference_preprocessing.py, held to the graph by
    tests/pets); client.images.pixels_for_model is the same preparation."""
    for size in (128, 224):
        mine = prepared({"preset": "pets"}, shape=(-1, size, size, 3))
        twin = crop_resize_scale(np.asarray(PHOTO), size)
        assert mine.dtype == np.float32
        np.testing.assert_allclose(mine, twin, rtol=0, atol=1e-5)
        assert np.array_equal(pixels_for_model("x.png", png(PHOTO), height=size, width=size), mine)


@pytest.mark.parametrize("resample, pillow", [("nearest", Image.Resampling.NEAREST),
                                              ("bilinear", Image.Resampling.BILINEAR),
                                              ("bicubic", Image.Resampling.BICUBIC),
                                              ("lanczos", Image.Resampling.LANCZOS)])
def test_stretch_is_pillows_resize_and_the_scales_map_0_255_linearly(resample, pillow):
    resized = np.asarray(PHOTO.resize((40, 32), pillow), dtype=np.float32)
    raw = prepared({"preset": "raw", "input": {"resample": resample}})
    assert raw.shape == (32, 40, 3) and np.array_equal(raw, resized)
    np.testing.assert_allclose(prepared({"preset": "unit", "input": {"resample": resample}}), resized / 255,
                               rtol=0, atol=1e-7)
    np.testing.assert_allclose(prepared({"preset": "keras-tf", "input": {"resample": resample}}),
                               resized / 127.5 - 1, rtol=0, atol=1e-6)
    np.testing.assert_allclose(prepared({"input": {"resize": "stretch", "resample": resample, "scale": [-2, 3]}}),
                               resized / 255 * 5 - 2, rtol=0, atol=1e-5)


def test_torch_and_caffe_conventions_per_channel():
    resized = np.asarray(PHOTO.resize((40, 32), Image.Resampling.BILINEAR), dtype=np.float32)
    torch = prepared({"preset": "keras-torch"})
    expected = (resized / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(torch, expected, rtol=0, atol=1e-5)
    caffe = prepared({"preset": "keras-caffe"})
    np.testing.assert_allclose(caffe, resized[..., ::-1] - np.array([103.939, 116.779, 123.68]), rtol=0, atol=1e-4)


def test_channel_orders_and_grey():
    rgb = prepared({"preset": "raw"})
    assert np.array_equal(prepared({"preset": "raw", "input": {"channels": "BGR"}}), rgb[..., ::-1])
    grey = prepared({"preset": "raw", "input": {"channels": "L"}}, shape=(-1, 32, 40, 1))
    assert grey.shape == (32, 40, 1)
    np.testing.assert_allclose(grey[..., 0], rgb @ np.array([0.299, 0.587, 0.114]), rtol=0, atol=1e-4)


def test_center_crop_takes_a_square_of_the_fraction_of_the_shorter_side():
    # 120x90: side int(90 * 0.5) = 45, left (120 - 45 + 1) // 2 = 38, top (90 - 45 + 1) // 2 = 23.
    crop = prepared({"preset": "raw", "input": {"resize": "center_crop", "crop_fraction": 0.5,
                                                "resample": "nearest"}}, shape=(-1, 45, 45, 3))
    assert np.array_equal(crop, np.asarray(PHOTO)[23:68, 38:83])
    pets_rule = prepared({"preset": "raw", "input": {"resize": "center_crop", "resample": "nearest"}},
                         shape=(-1, 96, 96, 3))  # side 90 * 96 // 128 = 67, left 27, top 12, then resized
    assert np.array_equal(pets_rule, np.asarray(PHOTO.crop((27, 12, 94, 79)).resize((96, 96), Image.NEAREST)))


def test_letterbox_fits_inside_and_pads_with_black():
    wide = Image.new("RGB", (80, 40), (200, 100, 50))
    boxed = prepared({"preset": "unit", "input": {"resize": "letterbox"}}, shape=(-1, 40, 40, 3), image=wide)
    assert boxed.shape == (40, 40, 3)
    assert np.all(boxed[:10] == 0) and np.all(boxed[30:] == 0)  # black bars: 0 on [0, 1]
    np.testing.assert_allclose(boxed[10:30], np.broadcast_to(np.array([200, 100, 50]) / 255, (20, 40, 3)),
                               rtol=0, atol=1e-6)
    bars = prepared({"preset": "keras-tf", "input": {"resize": "letterbox"}}, shape=(-1, 40, 40, 3), image=wide)
    assert np.all(bars[:10] == -1.0)  # black is the low end of the scale, after any mean/std


def test_dtypes_and_layouts():
    raw = prepared({"preset": "raw"})
    as_uint8 = prepared({"preset": "keras-torch"}, dtype="DT_UINT8")  # the preset's values do not apply
    assert as_uint8.dtype == np.uint8 and np.array_equal(as_uint8, raw.astype(np.uint8))
    assert prepared({"preset": "raw"}, dtype="DT_INT32").dtype == np.int32
    tf_resized = prepared({"preset": "raw", "input": {"resample": "tf_bilinear"}}, dtype="DT_UINT8")
    exact = prepared({"preset": "raw", "input": {"resample": "tf_bilinear"}})
    assert np.array_equal(tf_resized, np.clip(np.rint(exact), 0, 255).astype(np.uint8))
    assert prepared({"preset": "unit"}, dtype="DT_HALF").dtype == np.float16
    assert prepared({"preset": "unit"}, dtype="DT_DOUBLE").dtype == np.float64
    assert prepared({"preset": "unit"}, dtype="DT_BFLOAT16").dtype == np.float32
    nchw = prepared({"preset": "raw"}, shape=(-1, 3, 32, 40))
    assert nchw.shape == (3, 32, 40) and np.array_equal(nchw, raw.transpose(2, 0, 1))


@pytest.mark.parametrize("data, shape", [
    ({"preset": "keras-torch"}, (-1, 3, 32, 40)),
    ({"preset": "keras-tf", "input": {"resize": "center_crop"}}, (-1, 32, 40, 3)),
    ({"preset": "pets"}, (-1, 32, 40, 3)),
])
def test_what_the_model_saw_is_the_resized_picture_again(data, shape):
    profile = ModelProfile.from_dict(data)
    recipe = profile.recipe("DT_FLOAT", shape)
    seen = profile.seen_image(profile.prepare(PHOTO, dtype="DT_FLOAT", shape=shape), shape=shape)
    assert (seen.mode, seen.size) == ("RGB", (40, 32))
    resized = np.clip(np.rint(recipe.resized(PHOTO)), 0, 255)
    assert np.abs(np.asarray(seen, dtype=np.float32) - resized).max() <= 1  # float rounding, at most one level


def test_what_the_model_saw_keeps_the_channel_order_sent():
    red = Image.new("RGB", (8, 8), (250, 10, 10))
    profile = ModelProfile.preset("keras-caffe")
    seen = profile.seen_image(profile.prepare(red, dtype="DT_FLOAT", shape=(-1, 8, 8, 3)), shape=(-1, 8, 8, 3))
    assert seen.getpixel((4, 4)) == (10, 10, 250)  # BGR shown as sent: a red cat looks blue
    grey = ModelProfile.preset("raw")
    batch = grey.prepare(red, dtype="DT_UINT8", shape=(-1, 8, 8, 1))[None]
    assert grey.seen_image(batch, shape=(-1, 8, 8, 1)).getpixel((4, 4)) == 82  # 0.299·250 + 0.587·10 + 0.114·10


def test_describe_says_what_is_sent():
    assert ModelProfile.preset("pets").describe("DT_FLOAT", (-1, 224, 224, 3)) == (
        "centre crop size/(size+32) = 224/256 of the shorter side, resized to 224×224 (tf_bilinear); RGB; scale "
        "[-0.9922, 1]; NHWC, DT_FLOAT sent (values -0.9922 to 1)")
    assert ModelProfile.from_dict({"preset": "keras-caffe", "input": {"resize": "letterbox"}}).describe(
        "DT_HALF", (-1, 224, 224, 3)) == (
        "letterboxed into 224×224 (black bars) (bilinear); BGR; scale [0, 255]; mean [103.9, 116.8, 123.7]; NHWC, "
        "DT_HALF sent (values -123.7 to 151.1)")
    assert ModelProfile.from_dict({"preset": "raw", "input": {"resize": "center_crop", "crop_fraction": 0.875}}
                                  ).describe("DT_UINT8", (-1, 224, 224, 3)) == (
        "centre crop 87.5% of the shorter side, resized to 224×224 (bilinear); RGB; 0..255; NHWC, DT_UINT8 sent "
        "(values 0 to 255)")


def test_the_plan_prepares_from_the_upright_whole_image():
    """EXIF orientation first; a photo wider than the client's 1024 px limit for encoded images is not cut down."""
    image = Image.new("RGB", (1200, 400), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 600, 400))  # red on the left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display: red ends up on top
    data = png(image, format="JPEG", exif=exif.tobytes(), quality=95)
    spec = signature({"x": ("DT_UINT8", (-1, 40, 20, 3))}, {"probabilities": ("DT_FLOAT", (-1, 2))})
    plan = ClassifyPlan.from_signature(spec, profile=ModelProfile.from_dict(
        {"class_names": ["a", "b"], "preset": "raw", "input": {"resample": "box"}}))
    pixels = plan.instance("r.jpg", data)["x"]
    assert pixels.shape == (40, 20, 3) and pixels.dtype == np.uint8
    assert pixels[5, 10, 0] > 240 and pixels[5, 10, 2] < 15  # top: red
    assert pixels[35, 10, 2] > 240 and pixels[35, 10, 0] < 15  # bottom: blue
    assert np.array_equal(pixels, np.asarray(Image.open(io.BytesIO(data)).transpose(Image.Transpose.ROTATE_270)
                                             .resize((20, 40), Image.Resampling.BOX)))
