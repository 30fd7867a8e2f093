"""Small data-URI thumbnails for the results tables (st.column_config.ImageColumn renders data URIs)."""
from __future__ import annotations

import base64
import io

from PIL import Image, ImageOps

THUMBNAIL_SIZE = (72, 72)


def thumbnail_data_uri(data: bytes | None, size: tuple[int, int] = THUMBNAIL_SIZE) -> str | None:
    """A JPEG data URI of at most `size` pixels, or None when the bytes are not an image Pillow can read."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (size[0] * 2, size[1] * 2))  # JPEG: decode at reduced scale, much faster
            # The in-graph decoder ignores EXIF orientation but the analyst expects the photo upright.
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail(size)
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=80)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")
