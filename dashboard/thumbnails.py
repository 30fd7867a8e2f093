"""Small data-URI thumbnails for the results tables (st.column_config.ImageColumn renders data URIs).

A thumbnail must never cost a full decode of a huge image: a 420 KB PNG can hold 12000×12000 pixels (430 MB
as RGB). JPEGs are decoded at a reduced scale (draft); other formats are decoded only when their pixel count
after draft is at most MAX_SOURCE_PIXELS, and shrunk with reduce() before the final resize. Thumbnails are made
on a small thread pool while the images are being classified, not one by one on the page's thread.
"""
from __future__ import annotations

import base64
import io
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Sequence

from PIL import Image, ImageOps

THUMBNAIL_SIZE = (72, 72)
# 16 MP (48 MB as RGB): every camera photo after JPEG draft, while a decompression bomb is refused unread.
MAX_SOURCE_PIXELS = 4096 * 4096
# Thumbnails beyond this many rows would only bloat the session; the rows keep everything else.
MAX_THUMBNAILS = 1000

Loader = Callable[[], bytes]


def thumbnail_data_uri(data: bytes | None, size: tuple[int, int] = THUMBNAIL_SIZE) -> str | None:
    """A JPEG data URI of at most `size` pixels, or None when the bytes are not an image Pillow can read
    cheaply (unreadable, or too many pixels to decode for a preview)."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (size[0] * 2, size[1] * 2))  # JPEG: decode at 1/2..1/8 scale
            if image.width * image.height > MAX_SOURCE_PIXELS:
                return None  # only the header was read
            image.load()
            factor = max(1, min(image.width // (size[0] * 2), image.height // (size[1] * 2)))
            small = image.reduce(factor) if factor > 1 else image
            # The in-graph decoder ignores EXIF orientation but the analyst expects the photo upright.
            small = ImageOps.exif_transpose(small).convert("RGB")
            small.thumbnail(size)
            out = io.BytesIO()
            small.save(out, format="JPEG", quality=80)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


class ThumbnailPool:
    """Wraps loaders so that each image's thumbnail is made from the bytes the client reads anyway, on worker
    threads, while the requests are in flight. Use as a context manager; `uris()` waits for all of them."""

    def __init__(self, count: int, workers: int = 2, limit: int = MAX_THUMBNAILS) -> None:
        self._futures: list[Future[str | None] | None] = [None] * count
        self._limit = limit
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="thumbnails")

    def __enter__(self) -> "ThumbnailPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def wrap(self, items: Sequence[tuple[str, Loader]]) -> list[tuple[str, Loader]]:
        return [(name, self._loader(index, load)) for index, (name, load) in enumerate(items)]

    def _loader(self, index: int, load: Loader) -> Loader:
        def read() -> bytes:
            data = load()
            if index < self._limit and isinstance(data, bytes):
                self._futures[index] = self._pool.submit(thumbnail_data_uri, data)
            return data
        return read

    def uris(self) -> list[str | None]:
        """One data URI (or None) per item, in item order."""
        return [future.result() if future is not None else None for future in self._futures]
