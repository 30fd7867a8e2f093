"""What one occlusion map costs: requests, images and seconds for one image on pets version 2 (and version 1).

    python -m benchmarks.occlusion_cost                  # starts the embedded server with the built pets model
    python -m benchmarks.occlusion_cost --repeats 5 --grid 8 --grid 12

dashboard.evaluate.occlusion sends the image and one masked copy per grid cell as one predict request. Measured on
a photo from ../shared/images cut to a 224 × 224 px square (pets version 2's input size) and on its 96 px stored
thumbnail (what the dashboard's detail view maps), after one untimed map per version (the model's first requests).
Prints the median and the range of `--repeats` maps per case.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
from pathlib import Path

from PIL import Image, ImageOps

from benchmarks.dashboard_classify import PHOTOS, model_server
from client import TFServingClient
from dashboard.evaluate.occlusion import DEFAULT_GRID, occlusion_map
from dashboard.runs.thumbnail_jpeg import thumbnail_jpeg


def square_jpeg(path: Path, side: int) -> bytes:
    with Image.open(path) as image:
        square = ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), (side, side))
    out = io.BytesIO()
    square.save(out, format="JPEG", quality=90)
    return out.getvalue()


def measure(url: str, version: int, image: bytes, grid: int, repeats: int) -> str:
    with TFServingClient(url, "pets", timeout=300, retries=0) as client:
        occlusion_map(client, image, version=version, grid=grid)      # untimed: the first requests of this shape
        maps = [occlusion_map(client, image, version=version, grid=grid) for _ in range(repeats)]
    seconds = [m.seconds for m in maps]
    first = maps[0]
    width, height = first.image_size
    return (f"version {version}, {width} × {height} px, grid {grid} × {grid}: {first.requests} request(s), "
            f"{first.images} images, {statistics.median(seconds):.2f} s median "
            f"({min(seconds):.2f}–{max(seconds):.2f} s over {repeats}); predicted {first.predicted_class} "
            f"({first.base_probability:.1%})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grid", type=int, action="append", help=f"cells per side (default {DEFAULT_GRID})")
    args = parser.parse_args(argv)
    photos = sorted(PHOTOS.glob("cat/*"))
    if not photos:
        sys.exit(f"no photos in {PHOTOS / 'cat'}")
    photo = square_jpeg(photos[0], 224)
    thumbnail = thumbnail_jpeg(photo)
    print(f"photo: {photos[0].name} cut to 224 × 224 px ({len(photo):,} bytes); its stored thumbnail "
          f"{Image.open(io.BytesIO(thumbnail)).size[0]} px ({len(thumbnail):,} bytes)", flush=True)
    with model_server() as url:
        for grid in args.grid or [DEFAULT_GRID]:
            for version in (2, 1):
                for image in (photo, thumbnail):
                    print(measure(url, version, image, grid, args.repeats), flush=True)


if __name__ == "__main__":
    main()
