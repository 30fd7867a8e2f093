"""Load one SavedModel version: its SignatureDefs (read from saved_model.pb) and a way to run them.

Every SavedModel, TF1 graph or TF2 export (tf.function signatures, Keras 3 `model.export()`), runs the way TF Serving
runs it: its graph in a tf.compat.v1 Session after the SavedModel's restore op, the request's tensors fed by the
signature's tensor names. TensorFlow alone then decides whether their shapes fit (a [3] vector fed to `x` declared
[-1,1] runs, and a wrong image size fails in whichever op first cannot take it, with TensorFlow's message), as in
TF Serving.

One kind of export cannot run that way: a Keras 3 model saved with `tf.saved_model.save` (directly or inside a
tf.Module) has variables that its restore op never sets, so TF Serving answers every request with FAILED_PRECONDITION
"Could not find variable ...". Such a version runs through its TF2 concrete functions instead, and the loader logs
what TF Serving would do with it (`LoadedVersion.tf_serving_caveat`).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, saved_model_pb2

from serving.errors import InvalidArgument, NotFound
from serving.tensors import dtype_name

log = logging.getLogger("serving.loader")

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
    tf_serving_caveat: str = ""  # what TF Serving would do differently with this version ("" when nothing)

    def signature(self, name: str) -> meta_graph_pb2.SignatureDef:
        """The named SignatureDef, with TF Serving's error when it does not exist."""
        signature_name = name or DEFAULT_SIGNATURE
        if signature_name not in self.signature_defs:
            raise InvalidArgument(f'Serving signature name: "{signature_name}" not found in signature def')
        return self.signature_defs[signature_name]

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run a signature on numpy inputs; returns every output as numpy. TF errors propagate (mapped later).

        The inputs are checked as TF Serving checks a PredictRequest before its Session runs: their number, their
        names, then their dtypes (any transport: REST's JSON always arrives in the signature's dtypes).
        """
        signature_name = signature_name or DEFAULT_SIGNATURE
        signature = self.signature(signature_name)
        if signature.defaults and not set(signature.defaults) <= set(inputs):  # TF Serving feeds these when absent
            inputs = {**{key: tf.make_ndarray(value) for key, value in signature.defaults.items()}, **inputs}
        check_inputs(signature, inputs)
        return self._runner(signature_name, inputs)


def _names(keys) -> str:
    return ",".join(sorted(keys))


def check_inputs(signature: meta_graph_pb2.SignatureDef, inputs: Mapping[str, np.ndarray]) -> None:
    """TF Serving's checks and words, on inputs completed with the signature's defaults: VerifyRequestInputsSize and
    GetInputValues (predict_util.cc), then the Session's own (FunctionCallFrame::SetArgs) for a tensor whose dtype
    is not the signature's. Several inputs are numbered in name order (TF Serving's follows its proto map)."""
    expected = signature.inputs
    if len(inputs) != len(expected):
        raise InvalidArgument(
            f"input size does not match signature: {len(inputs)}!={len(expected)} len({{{_names(inputs)}}}) != "
            f"len({{{_names(expected)}}}). Sent extra: {{{_names(set(inputs) - set(expected))}}}. Missing but "
            f"required: {{{_names(set(expected) - set(inputs))}}}.")
    for alias in sorted(inputs):
        if alias not in expected:
            raise InvalidArgument(f"input tensor alias not found in signature: {alias}. Inputs expected to be in "
                                  f"the set {{{_names(expected)}}}.")
    for index, alias in enumerate(sorted(inputs)):
        sent, wanted = datatype_of(inputs[alias]), expected[alias].dtype
        if sent != wanted:
            raise InvalidArgument(f"Expects arg[{index}] to be {dtype_name(wanted)} but {dtype_name(sent)} is "
                                  "provided")


def datatype_of(array: np.ndarray) -> int:
    """The DataType enum of a numpy array (object and bytes arrays are DT_STRING)."""
    if array.dtype == object or array.dtype.kind == "S":
        return types_pb2.DT_STRING
    try:
        return tf.dtypes.as_dtype(array.dtype).as_datatype_enum
    except TypeError:
        return types_pb2.DT_INVALID


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


_CALL_OPS = ("StatefulPartitionedCall", "PartitionedCall")


def _node_name(tensor_name: str) -> str:
    return tensor_name.lstrip("^").split(":")[0]


def unrestored_variables(meta_graph: meta_graph_pb2.MetaGraphDef) -> list[str]:
    """Variables a TF2 export's signatures read that its restore op (saver_def.restore_op_name) never sets.

    TF Serving restores variables only through that op, so a signature reading one of these fails on every request
    with FAILED_PRECONDITION "Could not find variable <name>". A Keras 3 model saved with tf.saved_model.save has
    them (each variable gets a second handle that only tf.saved_model.load's object graph binds); Keras 3's
    `model.export()` and plain tf.Variables do not. Returns the variables' names, sorted.
    """
    nodes = {node.name: node for node in meta_graph.graph_def.node}
    restore = nodes.get(meta_graph.saver_def.restore_op_name)
    restored = set()
    if restore is not None and restore.op in _CALL_OPS:  # TF2's restore function takes the handles it assigns
        restored = {_node_name(name) for name in restore.input}
    pending = [_node_name(info.name) for key, signature in meta_graph.signature_def.items()
               if key != "__saved_model_init_op" for info in signature.outputs.values()]
    seen, unset = set(pending), set()
    while pending:
        node = nodes.get(pending.pop())
        if node is None:
            continue
        if node.op == "VarHandleOp":
            if node.name not in restored:
                unset.add(node.attr["shared_name"].s.decode() or node.name)
            continue
        for name in map(_node_name, node.input):
            if name not in seen:
                seen.add(name)
                pending.append(name)
    return sorted(unset)


def load_version(name: str, version: int, export_dir: Path) -> LoadedVersion:
    """Load a SavedModel directory (raises on any problem; the repository records it in the version status)."""
    if not (export_dir / "saved_model.pb").is_file():
        raise NotFound(f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {export_dir}")
    meta_graph = read_serve_meta_graph(export_dir)
    unset = unrestored_variables(meta_graph) if meta_graph.object_graph_def.nodes else []
    caveat = ""
    if unset:
        shown = ", ".join(unset[:3]) + (", ..." if len(unset) > 3 else "")
        caveat = (f"TF Serving cannot run this SavedModel: its restore op never sets {len(unset)} variable(s) that "
                  f"its signatures read ({shown}), so TF Serving answers every request with FAILED_PRECONDITION "
                  '"Could not find variable <name>". A Keras 3 model saved with tf.saved_model.save does this; '
                  "export it with model.export(). Served here through its TF2 functions.")
        log.warning("servable {name: %s version: %d}: %s", name, version, caveat)
        runner: Any = FunctionRunner(export_dir)
    else:
        runner = SessionRunner(export_dir, session_config())
    return LoadedVersion(name=name, version=version, path=export_dir, signature_defs=dict(meta_graph.signature_def),
                         _runner=runner, _model=runner, tf_serving_caveat=caveat)
