"""Check and normalise images with Pillow before they are sent.

Two payloads, chosen by the signature's input:
- `encode_for_wire`: encoded bytes for a DT_STRING input. The original bytes go out untouched
  when the server's decoder would see the same picture (cheapest); otherwise the image is
  rotated per EXIF, converted to RGB, downscaled and re-encoded as JPEG.
- `pixels_for_model`: a float32 H×W×3 array for a float input, preprocessed like the pets
  model's graph (centre crop, bilinear resize, (p − offset) / scale).
Anything Pillow cannot open (or decode, when it has to convert) raises ImageError naming the source and is
never sent; a JPEG sent as it is gets a structural check only (see _check_jpeg_complete).
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from client.errors import ImageError

__all__ = ["ImageScaling", "MAX_SIDE", "WIRE_FORMATS", "open_image", "encode_for_wire", "pixels_for_model"]

MAX_SIDE = 1024  # longest side sent; larger images are downscaled and re-encoded
WIRE_FORMATS = frozenset({"JPEG", "PNG", "BMP"})  # sent as-is when RGB/greyscale and upright
_EXIF_ORIENTATION = 0x0112
_JPEG_QUALITY = 95


@dataclass(frozen=True)
class ImageScaling:
    """Client-side preprocessing for float inputs: pixels -> (p - offset) / scale.

    crop_fraction None means size / (size + 32) of the shorter side, like the pets model.
    """

    offset: float = 127.0
    scale: float = 128.0
    crop_fraction: float | None = None

    def crop_side(self, shorter_side: int, size: int) -> int:
        """Side of the square centre crop; integer arithmetic like the pets graph."""
        if self.crop_fraction is None:
            return (shorter_side * size) // (size + 32)
        return int(shorter_side * self.crop_fraction)


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


def _upright_rgb(image: Image.Image, max_side: int | None) -> Image.Image:
    # The in-graph decoder ignores EXIF orientation, so apply it here.
    upright = ImageOps.exif_transpose(image) if _orientation(image) != 1 else image
    rgb = _to_rgb(upright)
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return rgb


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
    _upright_rgb(image, max_side).save(out, format="JPEG", quality=_JPEG_QUALITY)
    return out.getvalue()


def _resize_bilinear(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres and no antialiasing, i.e. what tf.image.resize
    does in the model's graph (Pillow's bilinear filter antialiases when shrinking)."""
    def taps(size_in: int, size_out: int):
        scale = np.float32(size_in) / np.float32(size_out)  # float32 like the TF kernel, for equal taps
        pos = np.clip((np.arange(size_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5),
                      0, size_in - 1)
        low = np.floor(pos).astype(np.intp)
        high = np.minimum(low + 1, size_in - 1)
        return low, high, (pos - low).astype(np.float32)

    y0, y1, fy = taps(pixels.shape[0], height)
    x0, x1, fx = taps(pixels.shape[1], width)
    rows = pixels[y0] * (1 - fy)[:, None, None] + pixels[y1] * fy[:, None, None]
    # np.take, not rows[:, x0]: the same values, in C order (indexing the middle axis leaves the result strided,
    # and every later copy of a strided batch, e.g. into a request, is a slow transposing one).
    return np.take(rows, x0, axis=1) * (1 - fx)[None, :, None] + np.take(rows, x1, axis=1) * fx[None, :, None]


def pixels_for_model(source: str, data: bytes, *, height: int, width: int,
                     scaling: ImageScaling = ImageScaling(), max_side: int = MAX_SIDE,
                     max_pixels: int | None = None) -> np.ndarray:
    """float32 [height, width, 3] for a float image input: centre crop, resize, scale."""
    rgb = _upright_rgb(open_image(source, data, max_pixels=max_pixels), max_side)
    pixels = np.asarray(rgb, dtype=np.float32)
    rows, cols = pixels.shape[:2]
    side = max(1, scaling.crop_side(min(rows, cols), min(height, width)))
    top, left = (rows - side + 1) // 2, (cols - side + 1) // 2  # same rounding as the pets graph
    cropped = pixels[top:top + side, left:left + side]
    return ((_resize_bilinear(cropped, height, width) - scaling.offset) / scaling.scale).astype(np.float32)
