"""Load one SavedModel version: its SignatureDefs (read from saved_model.pb) and a way to run them.

TF1-style exports (graphs saved with SavedModelBuilder, no object graph) run in a tf.compat.v1 Session, as
TF Serving runs every model: the request's tensors are fed by name and TensorFlow alone decides whether their
shapes fit (feeding [3] into an `x` declared [-1,1] works there, as in TF Serving). TF2 exports (tf.function
signatures) run through their concrete functions.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, saved_model_pb2

from serving.errors import InvalidArgument, NotFound

SERVE_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"

# Runs (signature name, numpy inputs by signature input key) -> numpy outputs by signature output key.
SignatureRunner = Callable[[str, Mapping[str, np.ndarray]], dict]


def read_serve_meta_graph(export_dir: Path) -> meta_graph_pb2.MetaGraphDef:
    """The `serve` MetaGraph, straight from saved_model.pb."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((export_dir / "saved_model.pb").read_bytes())
    for meta_graph in proto.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return meta_graph
    raise ValueError(f"{export_dir}/saved_model.pb has no MetaGraph tagged '{SERVE_TAG}'")


def read_signature_defs(export_dir: Path) -> Mapping[str, meta_graph_pb2.SignatureDef]:
    """The SignatureDefs of the `serve` MetaGraph (what TF Serving reports as metadata)."""
    return dict(read_serve_meta_graph(export_dir).signature_def)


@dataclass
class LoadedVersion:
    """A servable: one version of one model, ready to run."""

    name: str
    version: int
    path: Path
    signature_defs: Mapping[str, meta_graph_pb2.SignatureDef]
    _runner: SignatureRunner = field(repr=False)
    _model: Any = field(repr=False, default=None)  # keeps the loaded model (session or trackable) alive

    def signature(self, name: str) -> meta_graph_pb2.SignatureDef:
        """The named SignatureDef, with TF Serving's error when it does not exist."""
        signature_name = name or DEFAULT_SIGNATURE
        if signature_name not in self.signature_defs:
            raise InvalidArgument(f'Serving signature name: "{signature_name}" not found in signature def')
        return self.signature_defs[signature_name]

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run a signature on numpy inputs; returns every output as numpy. TF errors propagate (mapped later)."""
        return self._runner(signature_name or DEFAULT_SIGNATURE, inputs)


def as_array(value: Any) -> np.ndarray:
    """TensorFlow hands a scalar string output back as plain bytes; everything downstream expects arrays."""
    if isinstance(value, np.ndarray):
        return value
    return np.array(value, dtype=object if isinstance(value, bytes) else None)


class SessionRunner:
    """TF1 SavedModel in its own Session; one cached Session callable per signature (feeds in key order)."""

    def __init__(self, export_dir: Path, session_config: config_pb2.ConfigProto):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph, config=session_config)
        meta_graph = tf.compat.v1.saved_model.loader.load(self.session, [SERVE_TAG], str(export_dir))
        self.signature_defs = dict(meta_graph.signature_def)
        self._callables: dict[str, tuple[list[str], list[str], Any]] = {}
        self._lock = threading.Lock()

    def _callable(self, signature_name: str):
        with self._lock:
            if signature_name not in self._callables:
                signature = self.signature_defs[signature_name]
                feeds, fetches = sorted(signature.inputs), sorted(signature.outputs)
                options = config_pb2.CallableOptions(feed=[signature.inputs[k].name for k in feeds],
                                                     fetch=[signature.outputs[k].name for k in fetches])
                # The C API's callable (what Keras' backend uses): feeds go to Session::Run as they are, as in
                # TF Serving. The public make_callable would route feeds through Session.run's Python-side
                # shape check, which refuses [3] for a tensor declared [-1,1].
                run = self.session._make_callable_from_options(options)  # noqa: SLF001
                self._callables[signature_name] = (feeds, fetches, run)
            return self._callables[signature_name]

    def __call__(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict:
        feeds, fetches, run = self._callable(signature_name)
        if sorted(inputs) != feeds:
            raise InvalidArgument(f"signature {signature_name!r} takes inputs {', '.join(feeds)}; got "
                                  f"{', '.join(sorted(inputs)) or 'none'}")
        try:
            values = run(*(inputs[k] for k in feeds))
        except (TypeError, ValueError) as exc:  # numpy conversion of a feed failed before TensorFlow ran
            raise InvalidArgument(f"signature {signature_name!r} rejected the inputs: {exc}") from None
        return {key: as_array(value) for key, value in zip(fetches, values)}


class FunctionRunner:
    """TF2 SavedModel: the signatures' concrete functions (eager)."""

    def __init__(self, export_dir: Path):
        self.model = tf.saved_model.load(str(export_dir), tags=[SERVE_TAG])
        self.functions = dict(self.model.signatures)

    def __call__(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict:
        function = self.functions.get(signature_name)
        if function is None:
            raise InvalidArgument(f'Serving signature name: "{signature_name}" not found in signature def')
        try:
            outputs = function(**{key: tf.constant(value) for key, value in inputs.items()})
        except (TypeError, ValueError) as exc:  # argument binding (e.g. an incompatible shape) failed before TF ran
            raise InvalidArgument(f"signature {signature_name!r} rejected the inputs: {exc}") from None
        return {key: as_array(value.numpy()) for key, value in outputs.items()}


def session_config() -> config_pb2.ConfigProto:
    """The process-wide thread settings (--tensorflow_*_parallelism), for TF1 sessions too."""
    return config_pb2.ConfigProto(
        intra_op_parallelism_threads=tf.config.threading.get_intra_op_parallelism_threads(),
        inter_op_parallelism_threads=tf.config.threading.get_inter_op_parallelism_threads())


def load_version(name: str, version: int, export_dir: Path) -> LoadedVersion:
    """Load a SavedModel directory (raises on any problem; the repository records it in the version status)."""
    if not (export_dir / "saved_model.pb").is_file():
        raise NotFound(f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {export_dir}")
    meta_graph = read_serve_meta_graph(export_dir)
    if meta_graph.object_graph_def.nodes:
        runner: Any = FunctionRunner(export_dir)
    else:
        runner = SessionRunner(export_dir, session_config())
    return LoadedVersion(name=name, version=version, path=export_dir,
                         signature_defs=dict(meta_graph.signature_def), _runner=runner, _model=runner)
