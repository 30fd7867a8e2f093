"""Load one SavedModel version: its SignatureDefs (read from saved_model.pb) and callable signatures."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from serving.errors import InvalidArgument, NotFound

SERVE_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"


def read_signature_defs(export_dir: Path) -> Mapping[str, meta_graph_pb2.SignatureDef]:
    """The SignatureDefs of the `serve` MetaGraph, straight from saved_model.pb (what TF Serving reports)."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((export_dir / "saved_model.pb").read_bytes())
    for meta_graph in proto.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    raise ValueError(f"{export_dir}/saved_model.pb has no MetaGraph tagged '{SERVE_TAG}'")


@dataclass
class LoadedVersion:
    """A servable: one version of one model, ready to run."""

    name: str
    version: int
    path: Path
    signature_defs: Mapping[str, meta_graph_pb2.SignatureDef]
    _functions: Mapping[str, Any] = field(repr=False)
    _model: Any = field(repr=False)  # keeps the loaded trackable (and its variables) alive

    def signature(self, name: str) -> meta_graph_pb2.SignatureDef:
        """The named SignatureDef, with TF Serving's error when it does not exist."""
        signature_name = name or DEFAULT_SIGNATURE
        if signature_name not in self.signature_defs or signature_name not in self._functions:
            raise InvalidArgument(f'Serving signature name: "{signature_name}" not found in signature def')
        return self.signature_defs[signature_name]

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run a signature on numpy inputs; returns every output as numpy. TF errors propagate (mapped later)."""
        function = self._functions[signature_name or DEFAULT_SIGNATURE]
        try:
            outputs = function(**{key: tf.constant(value) for key, value in inputs.items()})
        except (TypeError, ValueError) as exc:  # argument binding failed before any TF op ran
            raise InvalidArgument(f"signature {signature_name or DEFAULT_SIGNATURE!r} rejected the inputs: {exc}") from None
        return {key: value.numpy() for key, value in outputs.items()}


def load_version(name: str, version: int, export_dir: Path) -> LoadedVersion:
    """Load a SavedModel directory (raises on any problem; the repository records it in the version status)."""
    if not (export_dir / "saved_model.pb").is_file():
        raise NotFound(f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {export_dir}")
    signature_defs = read_signature_defs(export_dir)
    model = tf.saved_model.load(str(export_dir), tags=[SERVE_TAG])
    functions = dict(model.signatures)
    return LoadedVersion(name=name, version=version, path=export_dir, signature_defs=signature_defs,
                         _functions=functions, _model=model)
