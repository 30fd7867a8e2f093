"""What the model saw: one image prepared as a stored run prepared it (its model profile and input tensor,
client.store.records.RunProfile), the tensor turned back into a picture (client.profile.ModelProfile.seen_image:
after crop, resize and channel order, values mapped back to 0..255), with the dtype, shape and value range actually
sent. This is how a wrong crop or a BGR/RGB swap shows at a glance. Pure (no streamlit); dashboard.ui.seen_view
draws it.
"""
from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from client import ModelProfile
from client.images import open_image, upright_rgb
from client.store.records import RunProfile

__all__ = ["SeenImage", "enlarged", "number_text", "what_the_model_saw"]


@dataclass(frozen=True)
class SeenImage:
    original: Image.Image            # the upload, upright (EXIF) in RGB: what the preparation starts from
    seen: Image.Image                # the tensor sent, as a picture (channels in the order sent)
    dtype: str                       # the input's dtype ("DT_FLOAT", "DT_UINT8", ...)
    shape: tuple[int, ...]           # the tensor sent for this image, batch dimension included
    low: float                       # the smallest and largest value sent for this image
    high: float
    possible: tuple[float, float]    # what the preparation can send at all (black and white pixels)
    preparation: str                 # the run's preparation line

    @property
    def summary(self) -> str:
        """"DT_FLOAT [1, 128, 128, 3], values -1 to 0.9843 (the preparation sends -1 to 1)"."""
        shape = "[" + ", ".join(map(str, self.shape)) + "]"
        return (f"{self.dtype} {shape}, values {number_text(self.low)} to {number_text(self.high)} (the preparation "
                f"sends {number_text(self.possible[0])} to {number_text(self.possible[1])})")


def number_text(value: float) -> str:
    return f"{value:.4g}" if value != int(value) else str(int(value))


def what_the_model_saw(source: str, data: bytes, profile: RunProfile) -> SeenImage | None:
    """The image `data` (named `source`) prepared with the run's profile for its input tensor; None when the run
    sent encoded images (the model prepared them itself) or did not record its input. Raises client.ImageError for
    an unusable image, client.InvalidArgumentError when the stored profile does not fit the stored input."""
    tensor = profile.input_tensor
    if tensor is None or tensor.get("dtype") in (None, "DT_STRING") or tensor.get("shape") is None:
        return None
    dtype, shape = str(tensor["dtype"]), tuple(int(side) for side in tensor["shape"])
    model_profile = ModelProfile.from_dict(dict(profile.data))
    original = upright_rgb(open_image(source, data))
    array = model_profile.prepare(original, dtype=dtype, shape=shape)
    recipe = model_profile.recipe(dtype, shape)
    return SeenImage(original=original, seen=model_profile.seen_image(array, shape=shape), dtype=dtype,
                     shape=(1, *array.shape), low=float(array.min()), high=float(array.max()),
                     possible=recipe.value_range(), preparation=profile.preparation or recipe.describe())


def enlarged(picture: Image.Image, side: int) -> Image.Image:
    """`picture` scaled up (nearest neighbour: each value stays one visible square) until its longer side is near
    `side`; pictures already that large are returned as they are."""
    factor = side // max(picture.size)
    if factor <= 1:
        return picture
    return picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)
