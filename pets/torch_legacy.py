"""Read a legacy-format (pre-zip) PyTorch state dict with `pickle` + numpy, without importing torch.

The legacy file is a run of pickles followed by raw storage blobs:
  magic number, protocol version, sys info, the state dict (tensors reference storages through
  `persistent_load`), the list of storage keys in write order, then per key an int64 element count
  and the storage bytes.
"""
from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class LegacyFormatError(ValueError):
    """The file is not a legacy torch.save checkpoint this reader understands."""


class RefusedGlobalError(pickle.UnpicklingError):
    """The checkpoint asks for a Python global outside the whitelist (it could run arbitrary code)."""


@dataclass
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self) -> np.ndarray:
        flat = self.storage.data
        if flat is None:
            raise LegacyFormatError(f"storage {self.storage.key} has no data blob")
        # as_strided trusts its arguments blindly: a forged shape/stride must not read past the blob.
        if (self.offset < 0 or any(n < 0 for n in self.shape) or any(s < 0 for s in self.stride)
                or len(self.stride) != len(self.shape)):
            raise LegacyFormatError(f"storage {self.storage.key}: bad tensor layout {self.shape}/{self.stride}")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride))
        if 0 not in self.shape and last >= len(flat):
            raise LegacyFormatError(f"storage {self.storage.key}: tensor {self.shape} at offset {self.offset} "
                                    f"overruns its {len(flat)} elements")
        if not self.shape:
            return flat[self.offset].copy()
        itemsize = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.shape, strides=[s * itemsize for s in self.stride]
        )
        return np.ascontiguousarray(view)


class _StorageType:
    def __init__(self, name: str):
        if name not in _STORAGE_DTYPES:
            raise LegacyFormatError(f"unsupported storage type torch.{name}")
        self.dtype = np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


class _NoGlobalsUnpickler(pickle.Unpickler):
    """For the header records and the storage-key list: plain data only, every global is refused."""

    def find_class(self, module: str, name: str):
        raise RefusedGlobalError(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"unexpected persistent id {pid!r} outside the state dict")


class _StateDictUnpickler(pickle.Unpickler):
    """Resolves only the handful of globals a state dict needs; anything else is refused."""

    def __init__(self, file: BinaryIO, storages: dict[str, _StorageRef]):
        super().__init__(file, encoding="utf-8")
        self._storages = storages

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        raise RefusedGlobalError(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise LegacyFormatError(f"unexpected persistent id {pid!r}")
        if len(pid) < 5 or not isinstance(pid[1], _StorageType):
            raise LegacyFormatError(f"unexpected persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if len(pid) > 5 and pid[5] is not None:
            raise LegacyFormatError("storage views are not supported")
        if key not in self._storages:
            self._storages[key] = _StorageRef(key, storage_type.dtype, numel)
        return self._storages[key]


def _plain_unpickle(file: BinaryIO):
    return _NoGlobalsUnpickler(file).load()


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Return {name: float array} from a legacy torch.save file, in the file's order.

    Every pickle in the file goes through an unpickler with a whitelist (none at all outside the state
    dict), so a hostile file raises RefusedGlobalError instead of running code; errors name the file.
    """
    path = Path(path)
    with open(path, "rb") as file:
        try:
            magic = _plain_unpickle(file)
        except RefusedGlobalError as exc:
            raise RefusedGlobalError(f"{path}: {exc}") from exc
        except Exception as exc:  # a zip-format or foreign file fails here
            raise LegacyFormatError(f"{path}: not a legacy torch checkpoint ({exc})") from exc
        if magic != LEGACY_MAGIC_NUMBER:
            raise LegacyFormatError(f"{path}: bad magic number {magic!r}")
        try:
            return _read_after_magic(file)
        except RefusedGlobalError as exc:
            raise RefusedGlobalError(f"{path}: {exc}") from exc
        except LegacyFormatError as exc:
            raise LegacyFormatError(f"{path}: {exc}") from exc
        except (pickle.UnpicklingError, EOFError, struct.error) as exc:
            raise LegacyFormatError(f"{path}: corrupt legacy checkpoint ({exc})") from exc


def _read_after_magic(file: BinaryIO) -> dict[str, np.ndarray]:
    _plain_unpickle(file)  # protocol version
    _plain_unpickle(file)  # sys info (endianness, type sizes)
    storages: dict[str, _StorageRef] = {}
    state = _StateDictUnpickler(file, storages).load()
    if not isinstance(state, dict) or not all(isinstance(value, _TensorRef) for value in state.values()):
        raise LegacyFormatError("the pickled object is not a state dict of tensors")
    storage_keys = _plain_unpickle(file)
    for key in storage_keys:
        (numel,) = struct.unpack("<q", file.read(8))
        storage = storages.get(str(key))
        if storage is None or numel != storage.numel:
            expected = storage.numel if storage else "no such storage"
            raise LegacyFormatError(f"storage {key} has {numel} elements on disk, the state dict expects {expected}")
        blob = file.read(numel * storage.dtype.itemsize)
        if len(blob) != numel * storage.dtype.itemsize:
            raise LegacyFormatError(f"storage {key} truncated")
        storage.data = np.frombuffer(blob, dtype=storage.dtype)
    return {name: ref.materialize() for name, ref in state.items()}
