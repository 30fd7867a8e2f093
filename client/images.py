"""Check and normalise images with Pillow before they are sent.

Two payloads, chosen by the signature's input:
- `encode_for_wire`: encoded bytes for a DT_STRING input. The original bytes go out untouched
  when the server's decoder would see the same picture (cheapest); otherwise the image is
  rotated per EXIF, converted to RGB, downscaled and re-encoded as JPEG.
- `upright_pixels`: the decoded picture a model profile prepares pixels from (client.profile, client.pixels):
  an upright JPEG in YCbCr or greyscale decoded by libjpeg-turbo straight into a uint8 array (simplejpeg: the
  same pixels as Pillow's decode, which unpacks every row into its own image memory first and is copied again
  into an array), anything else Pillow's `upright_rgb`; `pixels_for_model` is the pets preparation of it (centre
  crop, bilinear resize, (p − offset) / scale).
Anything Pillow cannot open (or decode, when it has to convert) raises ImageError naming the source and is
never sent; a JPEG sent as it is gets a structural check only (see _check_jpeg_complete).
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import simplejpeg
from PIL import Image, ImageOps, UnidentifiedImageError

from client.errors import ImageError
from client.pixels import PixelRecipe

__all__ = ["ImageScaling", "MAX_SIDE", "WIRE_FORMATS", "open_image", "encode_for_wire", "pixels_for_model",
           "upright_pixels", "upright_rgb"]

MAX_SIDE = 1024  # longest side sent; larger images are downscaled and re-encoded
WIRE_FORMATS = frozenset({"JPEG", "PNG", "BMP"})  # sent as-is when RGB/greyscale and upright
_EXIF_ORIENTATION = 0x0112
_JPEG_QUALITY = 95


@dataclass(frozen=True)
class ImageScaling:
    """The pets preparation with other numbers: pixels -> (p - offset) / scale after a centre crop.

    crop_fraction None means size / (size + 32) of the shorter side, like the pets model. A shorthand of a
    model profile (`profile_input`); a profile says more (client.profile).
    """

    offset: float = 127.0
    scale: float = 128.0
    crop_fraction: float | None = None

    def profile_input(self) -> dict[str, Any]:
        """The profile `input` settings that prepare pixels like this (on top of the pets preset)."""
        settings: dict[str, Any] = {"scale": [-self.offset / self.scale, (255.0 - self.offset) / self.scale]}
        if self.crop_fraction is not None:
            settings["crop_fraction"] = self.crop_fraction
        return settings


@contextmanager
def _decoding(source: str) -> Iterator[None]:
    """Pillow's and the codecs' complaints as one ImageError naming the source."""
    try:
        yield
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(source, f"decompression-bomb limit: {exc}") from None
    except UnidentifiedImageError:
        raise ImageError(source, "not an image (Pillow cannot identify the file format)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(source, f"corrupt or truncated image: {exc}") from None


def _opened(source: str, data: bytes, max_pixels: int | None) -> Image.Image:
    """The image with only its header read, refused when empty or over the decompression-bomb limit."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    if not data:
        raise ImageError(source, "empty file (0 bytes), not an image")
    with _decoding(source):
        image = Image.open(io.BytesIO(data))
        if limit and image.width * image.height > limit:
            raise ImageError(source, f"{image.width}x{image.height} pixels exceeds the decompression-bomb "
                                     f"limit of {limit} pixels")
    return image


def open_image(source: str, data: bytes, *, max_pixels: int | None = None) -> Image.Image:
    """Fully decode `data` (so truncated files fail here, not on the server)."""
    image = _opened(source, data, max_pixels)
    with _decoding(source):
        image.load()
    return image


def _first_scan(data: bytes) -> int:
    """Offset of the main image's first start-of-scan marker, found by walking the marker segments (so an EXIF
    thumbnail, a whole JPEG inside APP1, is skipped by its length); -1 when there is none. Stray bytes between
    segments are skipped up to the next 0xFF, as libjpeg does (with a warning), rather than refused."""
    position = 2  # after SOI
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            position = data.find(b"\xff", position)
            if position < 0:
                return -1
            continue
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte before the marker
            position += 1
        elif marker == 0xDA:
            return position
        elif 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            position += 2
        else:
            position += 2 + int.from_bytes(data[position + 2:position + 4], "big")
    return -1


def _check_jpeg_complete(source: str, data: bytes) -> None:
    """Refuse a JPEG that is cut short, without decoding it.

    A cut file (an interrupted copy or download: the usual breakage) has no end-of-image marker after its
    first scan; Pillow's full decode and TensorFlow's refuse such a cut, and so does this, without the CPU a
    decode would take on the cores the model server shares. Damage inside the coded data is left to the
    server's decoder, which refuses at least what Pillow's full decode refuses, and iter_classify isolates that
    image to a row of its own (batching.py). Bytes 0xFF 0xD9 cannot occur inside entropy-coded data (0xFF is
    stuffed as 0xFF 0x00), so one after the scan starts is the end marker."""
    scan = _first_scan(data)
    if scan < 0 or data.rfind(b"\xff\xd9", scan + 2) < 0:  # from the end: where the marker of a whole file is
        raise ImageError(source, "corrupt or truncated image: the JPEG ends before its end-of-image marker "
                                 "(the file is cut short)")


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB for any mode: 16/32-bit greyscale rescaled, alpha composited on white, CMYK/palette converted."""
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        # 16-bit files use 0..65535; 32-bit int/float have no fixed range, so stretch what is there.
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        grey = np.clip(values / top * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation tag, 1 (upright) when absent or when the EXIF block is corrupt: a
    broken EXIF block should not cost a readable photo (Pillow raises SyntaxError, struct.error...)."""
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - any EXIF parse failure means "no usable orientation"
        return 1


def upright_rgb(image: Image.Image, max_side: int | None = None) -> Image.Image:
    """The image turned upright per its EXIF orientation (decoders in graphs ignore it), in RGB, its longest
    side cut to `max_side` when given."""
    upright = ImageOps.exif_transpose(image) if _orientation(image) != 1 else image
    rgb = _to_rgb(upright)
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return rgb


def upright_pixels(source: str, data: bytes, *, max_pixels: int | None = None) -> Image.Image | np.ndarray:
    """The upright RGB picture pixels are prepared from: a uint8 [H, W, 3] array for a JPEG in YCbCr or greyscale
    without EXIF turning (libjpeg-turbo's accurate DCT and smooth upsampling, as Pillow decodes), else
    `upright_rgb(open_image(...))`. Refusals are open_image's: the header is read by Pillow (format, size, the
    decompression-bomb limit, orientation), and a JPEG libjpeg-turbo warns about (damaged or cut short) is left to
    Pillow, which decodes what it can or raises the ImageError naming the source."""
    image = _opened(source, data, max_pixels)
    if image.format == "JPEG" and image.mode in ("RGB", "L") and _orientation(image) == 1:
        try:
            return simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
        except ValueError:
            pass  # a recoverable defect or a JPEG variant it refuses: Pillow's decode below decides
    with _decoding(source):
        image.load()
    return upright_rgb(image)


def _sendable_as_is(image: Image.Image, max_side: int) -> bool:
    # TF's BMP decoder reads only 24/32-bit files, so a greyscale BMP is re-encoded.
    mode_ok = image.mode == "RGB" or (image.mode == "L" and image.format != "BMP")
    return (image.format in WIRE_FORMATS and mode_ok and _orientation(image) == 1
            and "transparency" not in image.info and max(image.size) <= max_side)


def encode_for_wire(source: str, data: bytes, *, max_side: int = MAX_SIDE,
                    max_pixels: int | None = None) -> bytes:
    """Bytes for a DT_STRING image input: the original when safe, else a normalised JPEG.

    Whether the original is safe (format, mode, size, EXIF orientation, transparency) is read from a
    JPEG's header, from other formats after a full decode. A JPEG sent as-is is not decoded here: one cut
    short is an ImageError (_check_jpeg_complete), deeper damage is the server decoder's 400 for that image."""
    image = _opened(source, data, max_pixels)
    if image.format == "JPEG" and _sendable_as_is(image, max_side):  # a JPEG's header says it all
        _check_jpeg_complete(source, data)
        return data
    with _decoding(source):
        image.load()  # other formats: decoded first, as their EXIF and transparency may follow the pixels
    if _sendable_as_is(image, max_side):
        return data
    out = io.BytesIO()
    upright_rgb(image, max_side).save(out, format="JPEG", quality=_JPEG_QUALITY)
    return out.getvalue()


def pixels_for_model(source: str, data: bytes, *, height: int, width: int,
                     scaling: ImageScaling = ImageScaling(), max_pixels: int | None = None) -> np.ndarray:
    """float32 [height, width, 3] for a float image input, prepared like the pets graph: centre crop,
    tf.image.resize's bilinear, (p - offset) / scale. (A model profile's recipe does this and more:
    client.profile.)"""
    recipe = PixelRecipe(dtype="DT_FLOAT", height=height, width=width, resize="center_crop",
                         crop_fraction=scaling.crop_fraction, resample="tf_bilinear", offset=scaling.offset,
                         divisor=scaling.scale)
    return recipe.prepare(upright_pixels(source, data, max_pixels=max_pixels))
