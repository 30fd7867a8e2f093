"""Fixtures for the pets model tests: one build per session (reusing pets/ when it is up to date)."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pets import HEADS_DIR, PETS_DIR, VERSION_SIZES  # noqa: E402


def _built_and_current(directory) -> bool:
    config = directory / "models.config"
    if not config.exists() or not all((directory / str(v) / "saved_model.pb").exists() for v in VERSION_SIZES):
        return False
    inputs = [*HEADS_DIR.glob("*.npz"), *PETS_DIR.glob("*.py"), *PETS_DIR.glob("*.txt")]
    newest_input = max(path.stat().st_mtime for path in inputs)
    return config.stat().st_mtime >= newest_input


@pytest.fixture(scope="session")
def pets_build_dir(tmp_path_factory):
    """Directory holding 1/, 2/ and models.config: the repo's pets/ if newer than its code and heads,
    else a fresh build in a tmp dir (the repo's pets/ is left alone)."""
    if _built_and_current(PETS_DIR):
        return PETS_DIR
    from pets.build import build

    output = tmp_path_factory.mktemp("pets_build")
    build(output)
    return output


@pytest.fixture(scope="session")
def loaded_versions(pets_build_dir):
    """{version: loaded SavedModel}, loaded once per session."""
    import tensorflow as tf

    return {version: tf.saved_model.load(str(pets_build_dir / str(version))) for version in VERSION_SIZES}


@pytest.fixture(scope="session")
def state_dict():
    from pets.efficientnet_lite import default_weights_path
    from pets.torch_legacy import load_state_dict

    return load_state_dict(default_weights_path())


@pytest.fixture(scope="session")
def backbones(state_dict):
    from pets.efficientnet_lite import build_backbone, load_torch_weights

    models = {}
    for size in VERSION_SIZES.values():
        models[size] = build_backbone(size)
        load_torch_weights(models[size], state_dict)
    return models
