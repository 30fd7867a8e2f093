"""Pixel preparation for one image input: the concrete recipe a model profile gives for a signature's input.

`PixelRecipe` holds every setting already resolved against the input's dtype and shape (size, layout, channel
count), so preparing an image only runs vectorised NumPy and Pillow. The order is always: resize (stretch,
centre crop or letterbox), channel order (RGB, BGR or one grey channel L), then, for float inputs, the linear
map of 0..255 onto `scale` and `(x - mean) / std` per channel; integer inputs get the resized 0..255 values.
The caller hands in an upright RGB image (EXIF orientation applied, client.images).

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


def resize_like_tf(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 [height, width, C]: bilinear with half-pixel centres and no antialiasing, what
    tf.image.resize(method="bilinear") computes (Pillow's bilinear antialiases when shrinking). Only the
    rows and columns the taps read are converted to float, so a large uint8 image costs little."""
    y0, y1, fy = _taps(pixels.shape[0], height)
    x0, x1, fx = _taps(pixels.shape[1], width)
    rows = pixels[y0] * (1 - fy)[:, None, None] + pixels[y1] * fy[:, None, None]
    # np.take, not rows[:, x0]: the same values, in C order (indexing the middle axis leaves the result strided,
    # and every later copy of a strided batch, e.g. into a request, is a slow transposing one).
    return np.take(rows, x0, axis=1) * (1 - fx)[None, :, None] + np.take(rows, x1, axis=1) * fx[None, :, None]


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

    def _resized(self, image: Image.Image, height: int, width: int) -> np.ndarray:
        if self.resample == "tf_bilinear":
            return resize_like_tf(np.asarray(image), height, width)
        return np.asarray(image.resize((width, height), _PILLOW_FILTERS[self.resample]))

    def resized(self, image: Image.Image) -> np.ndarray:
        """[height, width, 3] 0..255 values after the resize step (uint8, or float32 for tf_bilinear)."""
        if image.mode != "RGB":
            image = image.convert("RGB")
        if self.resize == "center_crop":
            side = self.crop_side(min(image.size))
            left, top = (image.width - side + 1) // 2, (image.height - side + 1) // 2  # the pets graph's rounding
            return self._resized(image.crop((left, top, left + side, top + side)), self.height, self.width)
        if self.resize == "letterbox":
            scale = min(self.height / image.height, self.width / image.width)
            inner_h = min(self.height, max(1, round(image.height * scale)))
            inner_w = min(self.width, max(1, round(image.width * scale)))
            inner = self._resized(image, inner_h, inner_w)
            canvas = np.zeros((self.height, self.width, 3), dtype=inner.dtype)  # black bars
            top, left = (self.height - inner_h) // 2, (self.width - inner_w) // 2
            canvas[top:top + inner_h, left:left + inner_w] = inner
            return canvas
        return self._resized(image, self.height, self.width)

    def prepare(self, image: Image.Image) -> np.ndarray:
        """One instance's tensor (no batch dimension) for an upright RGB image, in `numpy_dtype`."""
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
