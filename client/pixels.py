"""Pixel preparation for one image input: the concrete recipe a model profile gives for a signature's input.

`PixelRecipe` holds every setting already resolved against the input's dtype and shape (size, layout, channel
count), so preparing an image only runs vectorised NumPy and Pillow. The order is always: resize (stretch,
centre crop or letterbox), channel order (RGB, BGR or one grey channel L), then, for float inputs, the linear
map of 0..255 onto `scale` and `(x - mean) / std` per channel; integer inputs get the resized 0..255 values.
The caller hands in an upright RGB picture, a Pillow image or a uint8 array (EXIF orientation applied,
client.images.upright_pixels).

`seen_image` turns a prepared tensor back into a picture (the values mapped back to 0..255, the channels
shown in the order they were sent, so a BGR tensor looks blue-red swapped) and `describe` says in one line
what is sent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["FLOAT_DTYPES", "INTEGER_DTYPES", "PixelRecipe", "PETS_CROP_PADDING", "resize_like_tf"]

# TF dtype -> the NumPy dtype the prepared array has. bfloat16 has no NumPy type: its values go as float32
# (the REST API sends decimals either way, and the server rounds them to the input's type).
FLOAT_DTYPES = {"DT_FLOAT": np.float32, "DT_HALF": np.float16, "DT_DOUBLE": np.float64,
                "DT_BFLOAT16": np.float32}
# Integer inputs that hold 0..255 (DT_INT8 cannot).
INTEGER_DTYPES = {"DT_UINT8": np.uint8, "DT_UINT16": np.uint16, "DT_INT16": np.int16, "DT_INT32": np.int32,
                  "DT_INT64": np.int64, "DT_UINT32": np.uint32, "DT_UINT64": np.uint64}
PETS_CROP_PADDING = 32  # crop_fraction None: a centre crop of size / (size + 32) of the shorter side
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, what Pillow's convert("L") uses
_PILLOW_FILTERS = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
                   "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS,
                   "box": Image.Resampling.BOX, "hamming": Image.Resampling.HAMMING}


def _taps(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = np.float32(size_in) / np.float32(size_out)  # float32 like the TF kernel, for equal taps
    position = np.clip((np.arange(size_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5),
                       0, size_in - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, size_in - 1)
    return low, high, (position - low).astype(np.float32)


def resize_like_tf(pixels: np.ndarray, height: int, width: int,
                   box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """float32 [height, width, C]: bilinear with half-pixel centres and no antialiasing, what
    tf.image.resize(method="bilinear") computes (Pillow's bilinear antialiases when shrinking), with the TF
    kernel's own arithmetic (top = tl + (tr - tl) * x_lerp, likewise bottom, then top + (bottom - top) * y_lerp),
    so the values are equal to its, not only close. `box` (top, left, rows, columns) resizes that window of
    `pixels` as if it had been cut out first. Only the four source pixels of each output value are gathered
    and converted to float, so a large uint8 image costs little."""
    channels = pixels.shape[2]
    top_edge, left_edge, box_height, box_width = box if box is not None else (0, 0, *pixels.shape[:2])
    y0, y1, fy = _taps(box_height, height)
    x0, x1, fx = _taps(box_width, width)
    y0, y1, x0, x1 = y0 + top_edge, y1 + top_edge, x0 + left_edge, x1 + left_edge
    # Rows of [width * C] values: gathering whole pixels is one take along the last axis, and every step below
    # broadcasts a row vector (fast) rather than a [1, width, 1] one.
    flat = pixels.reshape(pixels.shape[0], -1)
    lanes = np.arange(channels)
    left, right = (x0[:, None] * channels + lanes).ravel(), (x1[:, None] * channels + lanes).ravel()
    x_lerp = np.repeat(fx, channels)

    def across(source_rows: np.ndarray) -> np.ndarray:
        near = source_rows.take(left, axis=1).astype(np.float32)
        far = source_rows.take(right, axis=1).astype(np.float32)
        far -= near
        far *= x_lerp
        far += near
        return far

    top, bottom = across(flat[y0]), across(flat[y1])
    bottom -= top
    bottom *= fy[:, None]
    bottom += top
    return bottom.reshape(height, width, channels)


def _describe_number(value: float) -> str:
    return f"{value:.4g}"


def _numbers(values: tuple[float, ...]) -> str:
    return "[" + ", ".join(_describe_number(v) for v in values) + "]"


@dataclass(frozen=True)
class PixelRecipe:
    """How one image becomes the input tensor of one instance (see the module docstring).

    Float inputs get `((p - offset) / divisor - mean) / std` per channel, p being the resized 0..255 value;
    `offset` and `divisor` come from the profile's `scale` [lo, hi] (0 -> lo, 255 -> hi).
    """

    dtype: str
    height: int
    width: int
    layout: str = "NHWC"
    channels: str = "RGB"
    resize: str = "stretch"
    crop_fraction: float | None = None
    resample: str = "bilinear"
    offset: float = 0.0
    divisor: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    preset_values_dropped: bool = False  # an integer input: the preset's scale/mean/std did not apply

    @property
    def integer(self) -> bool:
        return self.dtype in INTEGER_DTYPES

    @property
    def numpy_dtype(self) -> type:
        return INTEGER_DTYPES[self.dtype] if self.integer else FLOAT_DTYPES[self.dtype]

    @property
    def channel_count(self) -> int:
        return 1 if self.channels == "L" else 3

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of one prepared instance (no batch dimension)."""
        if self.layout == "NCHW":
            return (self.channel_count, self.height, self.width)
        return (self.height, self.width, self.channel_count)

    # -- preparing ----------------------------------------------------------------------------------
    def crop_side(self, shorter_side: int) -> int:
        """Side of the square centre crop; the pets rule in integer arithmetic, like its graph."""
        if self.crop_fraction is None:
            size = min(self.height, self.width)
            side = (shorter_side * size) // (size + PETS_CROP_PADDING)
        else:
            side = int(shorter_side * self.crop_fraction)
        return min(max(1, side), shorter_side)

    def _resized(self, image: Image.Image | np.ndarray, height: int, width: int,
                 box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The resize step on `box` (top, left, rows, columns) of the image, or all of it."""
        if self.resample == "tf_bilinear":
            return resize_like_tf(np.asarray(image), height, width, box)
        picture = Image.fromarray(image) if isinstance(image, np.ndarray) else image
        if box is not None:
            top, left, rows, columns = box
            picture = picture.crop((left, top, left + columns, top + rows))
        return np.asarray(picture.resize((width, height), _PILLOW_FILTERS[self.resample]))

    def resized(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """[height, width, 3] 0..255 values after the resize step (uint8, or float32 for tf_bilinear), for an
        upright picture: a Pillow image, or a uint8 RGB array [H, W, 3] (client.images.upright_pixels)."""
        if isinstance(image, np.ndarray):
            image_height, image_width = image.shape[:2]
        else:
            if image.mode != "RGB":
                image = image.convert("RGB")
            image_width, image_height = image.size
        if self.resize == "center_crop":
            side = self.crop_side(min(image_width, image_height))
            # the pets graph's rounding
            top, left = (image_height - side + 1) // 2, (image_width - side + 1) // 2
            return self._resized(image, self.height, self.width, (top, left, side, side))
        if self.resize == "letterbox":
            scale = min(self.height / image_height, self.width / image_width)
            inner_h = min(self.height, max(1, round(image_height * scale)))
            inner_w = min(self.width, max(1, round(image_width * scale)))
            inner = self._resized(image, inner_h, inner_w)
            canvas = np.zeros((self.height, self.width, 3), dtype=inner.dtype)  # black bars
            top, left = (self.height - inner_h) // 2, (self.width - inner_w) // 2
            canvas[top:top + inner_h, left:left + inner_w] = inner
            return canvas
        return self._resized(image, self.height, self.width)

    def prepare(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """One instance's tensor (no batch dimension) for an upright RGB picture (see resized), in `numpy_dtype`."""
        pixels = self.resized(image)
        if self.channels == "BGR":
            pixels = pixels[..., ::-1]
        elif self.channels == "L":
            pixels = (pixels @ _LUMA)[..., None]
        if self.integer:
            if pixels.dtype != np.uint8:
                pixels = np.clip(np.rint(pixels), 0, 255)
            values = pixels.astype(self.numpy_dtype)
        else:
            factor, shift = self._affine()
            values = np.multiply(pixels, factor, dtype=np.float32)  # two passes over the pixels, no copies
            values += shift
            values = values.astype(self.numpy_dtype, copy=False)
        if self.layout == "NCHW":
            values = values.transpose(2, 0, 1)
        return np.ascontiguousarray(values)

    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        """Per channel, float32: ((p - offset) / divisor - mean) / std = p · factor + shift. For scales whose
        divisor is a power of two (pets: (p - 127) / 128) both are exact, so the values are too."""
        mean = np.asarray(self.mean if self.mean is not None else (0.0,), dtype=np.float64)
        std = np.asarray(self.std if self.std is not None else (1.0,), dtype=np.float64)
        factor = 1.0 / (self.divisor * std)
        shift = (-self.offset / self.divisor - mean) / std
        return factor.astype(np.float32), shift.astype(np.float32)

    # -- showing ------------------------------------------------------------------------------------
    def seen_image(self, array: np.ndarray) -> Image.Image:
        """The prepared tensor as a picture: values mapped back to 0..255, channels as sent (no BGR swap
        back), grey for one channel. A batch of one is accepted too."""
        values = np.asarray(array)
        if values.ndim == 4 and values.shape[0] == 1:
            values = values[0]
        if values.ndim != 3:
            raise ValueError(f"expected one instance of rank 3, got shape {list(values.shape)}")
        if self.layout == "NCHW":
            values = values.transpose(1, 2, 0)
        values = values.astype(np.float64)
        if not self.integer:
            if self.std is not None:
                values = values * np.asarray(self.std)
            if self.mean is not None:
                values = values + np.asarray(self.mean)
            values = values * self.divisor + self.offset
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        if grey.shape[2] == 1:
            return Image.fromarray(grey[..., 0], mode="L")
        return Image.fromarray(grey, mode="RGB")

    def value_range(self) -> tuple[float, float]:
        """The smallest and largest value this recipe can send (black and white pixels, every channel)."""
        if self.integer:
            return 0.0, 255.0
        ends = np.array([[0.0], [255.0]])
        values = (ends - self.offset) / self.divisor
        values = values - np.asarray(self.mean if self.mean is not None else (0.0,))
        values = values / np.asarray(self.std if self.std is not None else (1.0,))
        return float(values.min()), float(values.max())

    def describe(self) -> str:
        """One plain line: size, resize, channels, scale, mean/std, layout and the dtype sent."""
        size = f"{self.height}×{self.width}"
        if self.resize == "center_crop":
            if self.crop_fraction is None:
                edge = min(self.height, self.width)
                crop = f"size/(size+{PETS_CROP_PADDING}) = {edge}/{edge + PETS_CROP_PADDING}"
            else:
                crop = f"{_describe_number(self.crop_fraction * 100)}%"
            resize = f"centre crop {crop} of the shorter side, resized to {size}"
        elif self.resize == "letterbox":
            resize = f"letterboxed into {size} (black bars)"
        else:
            resize = f"stretched to {size}"
        parts = [f"{resize} ({self.resample})", self.channels if self.channels != "L" else "grey (L)"]
        if self.integer:
            parts.append("0..255" + (" (the preset's scale and mean/std do not apply to integer inputs)"
                                     if self.preset_values_dropped else ""))
        else:
            low, high = (0 - self.offset) / self.divisor, (255 - self.offset) / self.divisor
            parts.append(f"scale [{_describe_number(low)}, {_describe_number(high)}]")
            if self.mean is not None:
                parts.append(f"mean {_numbers(self.mean)}")
            if self.std is not None:
                parts.append(f"std {_numbers(self.std)}")
        first, last = self.value_range()
        parts.append(f"{self.layout}, {self.dtype} sent (values {_describe_number(first)} to "
                     f"{_describe_number(last)})")
        return "; ".join(parts)
