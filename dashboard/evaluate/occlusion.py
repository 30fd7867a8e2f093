"""Where the model looked: an occlusion-sensitivity map computed through the serving API, for any classifier.

The image is cut into a grid of cells; one copy per cell has that cell painted over with the image's mean colour.
The unmasked image and every masked copy go to the model server as ONE batch (one predict request, through
client.TFServingClient), and each cell's value is the drop in the predicted class's probability when it is masked:
a cell whose loss costs the model its answer is where it looked. Every copy is sent as PNG (lossless), the unmasked
one too, so only the mask differs between them. Pure numpy, Pillow and the client; no streamlit
(dashboard.evaluate.detail_view draws it).
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageOps

from client import ClassificationResult, TFServingClient

__all__ = ["DEFAULT_GRID", "OVERLAY_SIDE", "OcclusionError", "OcclusionMap", "cell_edges", "masked_copies", "drops_of", "overlay_png",
           "occlusion_map", "hottest_cells", "png_bytes", "decode_rgb"]

DEFAULT_GRID = 8           # 8 × 8 cells: 65 images in the one request (the image and 64 masked copies)
OVERLAY_SIDE = 288         # the drawn map's longer side, in pixels: the enlarged image's (cells scaled up, never blurred)
HEAT_RGB = (220, 30, 30)   # the colour of a cell whose masking costs the most
HEAT_OPACITY = 0.7         # opacity of the hottest cell; a cell that costs nothing is transparent


def decode_rgb(data: bytes) -> np.ndarray:
    """The image as an H × W × 3 uint8 array, upright per EXIF. Raises ValueError for bytes Pillow cannot read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({exc})") from None


def png_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB").save(out, format="PNG")
    return out.getvalue()


def cell_edges(length: int, cells: int) -> list[int]:
    """The cells + 1 pixel edges that split `length` pixels into `cells` runs as even as whole pixels allow
    (cell_edges(10, 4) == [0, 2, 5, 8, 10]). Raises ValueError when there are more cells than pixels."""
    if cells < 1 or length < cells:
        raise ValueError(f"cannot split {length} pixel(s) into {cells} cell(s)")
    return [int(round(length * i / cells)) for i in range(cells + 1)]


def masked_copies(pixels: np.ndarray, grid: int, fill: Sequence[int] | None = None) -> list[np.ndarray]:
    """One copy of `pixels` (H × W × 3) per cell of a grid × grid split, row by row, with that cell painted
    `fill` (default: the image's mean colour, rounded)."""
    height, width = pixels.shape[:2]
    rows, columns = cell_edges(height, grid), cell_edges(width, grid)
    colour = np.asarray(fill if fill is not None else np.rint(pixels.reshape(-1, 3).mean(axis=0)), dtype=np.uint8)
    copies = []
    for r in range(grid):
        for c in range(grid):
            copy = pixels.copy()
            copy[rows[r]:rows[r + 1], columns[c]:columns[c + 1]] = colour
            copies.append(copy)
    return copies


def drops_of(base: float, masked: Sequence[float | None], grid: int) -> np.ndarray:
    """grid × grid array of base − masked probability, row by row (NaN where a copy has no answer)."""
    if len(masked) != grid * grid:
        raise ValueError(f"{len(masked)} masked probabilities for a {grid} × {grid} grid")
    values = np.array([np.nan if p is None else base - float(p) for p in masked], dtype=float)
    return values.reshape(grid, grid)


def hottest_cells(drops: np.ndarray, count: int = 1) -> list[tuple[int, int]]:
    """(row, column) of the `count` cells with the largest drop, largest first (NaN cells never count)."""
    flat = np.where(np.isnan(drops), -np.inf, drops).ravel()
    order = np.argsort(-flat, kind="stable")[:count]
    return [(int(i) // drops.shape[1], int(i) % drops.shape[1]) for i in order]


def overlay_png(pixels: np.ndarray, drops: np.ndarray, side: int = OVERLAY_SIDE) -> bytes:
    """The image scaled up (longer side `side`) with each cell tinted red in proportion to its drop: the largest
    positive drop at HEAT_OPACITY, a drop of 0 or less (masking helped or changed nothing) not tinted."""
    height, width = pixels.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    picture = Image.fromarray(pixels, "RGB").resize(size, Image.Resampling.NEAREST).convert("RGBA")
    positive = np.nan_to_num(np.clip(drops, 0.0, None), nan=0.0)
    top = float(positive.max())
    strength = positive / top if top > 0 else positive
    grid_rows, grid_columns = drops.shape
    rows = [round(e * scale) for e in cell_edges(height, grid_rows)]
    columns = [round(e * scale) for e in cell_edges(width, grid_columns)]
    heat = np.zeros((size[1], size[0], 4), dtype=np.uint8)
    heat[..., :3] = HEAT_RGB
    for r in range(grid_rows):
        for c in range(grid_columns):
            heat[rows[r]:rows[r + 1], columns[c]:columns[c + 1], 3] = round(255 * HEAT_OPACITY * strength[r, c])
    out = io.BytesIO()
    Image.alpha_composite(picture, Image.fromarray(heat, "RGBA")).convert("RGB").save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class OcclusionMap:
    """One image's map for one model version."""
    predicted_class: str
    base_probability: float        # P(predicted class) on the unmasked image
    drops: np.ndarray              # grid × grid: base − P(predicted class) with that cell masked
    grid: int
    image_size: tuple[int, int]    # (width, height) of the image the map was computed on
    requests: int                  # predict requests sent (one, unless the server split the batch)
    images: int                    # images sent: the unmasked one and one per cell
    seconds: float
    overlay: bytes                 # PNG: the image with the map over it
    failed_cells: int = 0          # copies that got no answer (their cells are blank)

    @property
    def cell_size(self) -> tuple[int, int]:
        """(width, height) of a cell in pixels, rounded down (cells differ by at most one pixel)."""
        return self.image_size[0] // self.grid, self.image_size[1] // self.grid

    def cost_text(self) -> str:
        """"1 request, 65 images, 0.8 s"."""
        requests = f"{self.requests} request" + ("" if self.requests == 1 else "s")
        return f"{requests}, {self.images} images, {self.seconds:.1f} s"

    def resolution_text(self) -> str:
        """"computed on the 96 × 72 px image, 8 × 8 cells of 12 × 9 px, each masked with the image's mean colour"."""
        width, height = self.image_size
        cell_w, cell_h = self.cell_size
        return (f"computed on the {width} × {height} px image, {self.grid} × {self.grid} cells of about "
                f"{cell_w} × {cell_h} px, each masked with the image's mean colour")


class OcclusionError(ValueError):
    """The map cannot be made: the image is unreadable or too small, or the unmasked image got no answer."""


def _counting_predicts(client: TFServingClient) -> tuple[list[int], object]:
    """A response hook on the client's session counting the POSTs (predict requests) that got an answer."""
    count = [0]

    def hook(response, *args, **kwargs):
        if response.request.method == "POST":
            count[0] += 1
        return response
    hooks = client.session.hooks.get("response")
    client.session.hooks["response"] = [*([hooks] if callable(hooks) else hooks or []), hook]
    return count, hook


def occlusion_map(client: TFServingClient, image: bytes, *, version: int | None = None, label: str | None = None,
                  grid: int = DEFAULT_GRID, predicted_class: str | None = None) -> OcclusionMap:
    """The map of `image` (encoded bytes) for the version (or label, or latest) `client` reaches: the unmasked
    image and grid × grid masked copies in one predict request. `predicted_class`: the class whose probability is
    followed (default: the one the model gives the unmasked image). Raises OcclusionError (the image is unreadable,
    smaller than the grid, or the unmasked copy got no answer) and the client's TFServingError when the request
    cannot be planned (unknown model or version, unusable signature)."""
    try:
        pixels = decode_rgb(image)
        copies = masked_copies(pixels, grid)
    except ValueError as exc:
        raise OcclusionError(f"no map: {exc}") from None
    items = [("unmasked.png", png_bytes(pixels))] + [
        (f"cell-{i // grid}-{i % grid}.png", png_bytes(copy)) for i, copy in enumerate(copies)]
    count, hook = _counting_predicts(client)
    started = time.perf_counter()
    try:
        results = client.classify(items, version=version, label=label, batch_size=len(items), concurrency=1)
    finally:
        seconds = time.perf_counter() - started
        client.session.hooks["response"].remove(hook)
    base = results[0]
    if not base.ok:
        raise OcclusionError(f"no map: the unmasked image got no answer ({base.error})")
    chosen = predicted_class if predicted_class is not None else str(base.label)
    if chosen not in base.probabilities:
        raise OcclusionError(f"no map: the model has no class {chosen!r}")
    masked = [_probability(result, chosen) for result in results[1:]]
    drops = drops_of(float(base.probabilities[chosen]), masked, grid)
    return OcclusionMap(predicted_class=chosen, base_probability=float(base.probabilities[chosen]), drops=drops,
                        grid=grid, image_size=(pixels.shape[1], pixels.shape[0]), requests=count[0],
                        images=len(items), seconds=seconds, overlay=overlay_png(pixels, drops),
                        failed_cells=sum(p is None for p in masked))


def _probability(result: ClassificationResult, name: str) -> float | None:
    probabilities: Mapping[str, float] = result.probabilities if result.ok else {}
    return float(probabilities[name]) if name in probabilities else None
