"""Shorthands of a model profile: `labels`, `scaling` and a SignatureConfig's class names folded into one."""
from __future__ import annotations

from client.errors import InvalidArgumentError
from client.images import ImageScaling
from client.profile import ModelProfile
from client.signature_config import SignatureConfig

__all__ = ["with_shorthands"]


def with_shorthands(profile: ModelProfile | None, *, labels: tuple[str, ...] | None, scaling: ImageScaling,
                     signature: SignatureConfig | None) -> ModelProfile | None:
    """The profile with what `labels` and `scaling` say folded in; None when nothing was given (the default is
    assumed). A shorthand (or a SignatureConfig's class names) that contradicts the profile is an
    InvalidArgumentError naming it."""
    keys: dict = {}
    if labels:
        keys["class_names"] = list(labels)
    if scaling != ImageScaling():
        keys["input"] = scaling.profile_input()
    if profile is None:
        return ModelProfile.from_dict(keys) if keys else None
    given = profile.to_dict()
    names = profile.class_names
    if labels and names is not None and tuple(names) != labels:
        raise InvalidArgumentError("labels", labels, "differ from the profile's class names; give them in one place")
    if signature is not None and names is not None and tuple(names) != signature.class_names:
        raise InvalidArgumentError("signature.class_names", signature.class_names,
                                   "differ from the profile's class names; give them in one place")
    if "input" in keys and any(key in given.get("input", {}) for key in ("scale", "crop_fraction")):
        raise InvalidArgumentError("scaling", scaling, "the profile already says how pixels are scaled")
    if names is not None:
        keys.pop("class_names", None)
    if "input" in keys:
        keys["input"] = {**given.get("input", {}), **keys["input"]}
    return profile.overridden(**keys) if keys else profile
