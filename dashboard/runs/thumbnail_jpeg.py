"""Small JPEG thumbnails (<= 96 px) for the run store, made without decoding big images at full size."""
from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

__all__ = ["THUMBNAIL_SIDE", "MAX_FULL_DECODE_PIXELS", "thumbnail_jpeg"]

THUMBNAIL_SIDE = 96
# A JPEG is decoded at 1/2..1/8 scale (draft), so any size is cheap. Other formats have no reduced
# decode: above this many pixels (~72 MB as RGB) the row simply gets no thumbnail.
MAX_FULL_DECODE_PIXELS = 24_000_000
# Each thumbnail goes to the browser as a data URI in the results table: 75 keeps them smaller than 80 with no
# visible difference at 96 px.
JPEG_QUALITY = 75


def thumbnail_jpeg(data: bytes | None, side: int = THUMBNAIL_SIDE) -> bytes | None:
    """JPEG bytes of at most side × side pixels, upright per EXIF; None when there is none to make."""
    if not data:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "JPEG" and image.width * image.height > MAX_FULL_DECODE_PIXELS:
                    return None
                orientation = image.getexif().get(0x0112)
                # thumbnail() asks a JPEG for the smallest DCT-scaled draft still >= the thumbnail's size and
                # reduce()s by whole factors before resampling (a gap of 1: at 96 px a bicubic step from < 2×
                # looks the same and decodes 1/2 scale, not full size, sparing CPU on cores the model server
                # shares). The box is square, so rotating afterwards keeps it within bounds.
                image.thumbnail((side, side), reducing_gap=1.0)
                small = image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()
        if orientation:
            exif = small.getexif()
            exif[0x0112] = orientation
            small.info["exif"] = exif.tobytes()
            small = ImageOps.exif_transpose(small)
        out = io.BytesIO()
        small.save(out, format="JPEG", quality=JPEG_QUALITY)
        return out.getvalue()
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None
