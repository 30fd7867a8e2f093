"""`--batching_parameters_file`: TF Serving's BatchingParameters text proto, parsed with protobuf's text_format.

tensorflow-serving-api does not ship `session_bundle_config.proto`, so the message is declared here from its
published schema (same package, names, field numbers and wrapper types), which is what text_format needs.
Defaults are those of TF Serving's shared batch scheduler: 1000 per batch, no timeout, 10 queued batches, one
batch thread per core.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2

from serving.config import ConfigError

_FIELDS = [  # (name, number, wrapper type or scalar, repeated)
    ("max_batch_size", 1, ".google.protobuf.Int64Value", False),
    ("batch_timeout_micros", 2, ".google.protobuf.Int64Value", False),
    ("max_enqueued_batches", 3, ".google.protobuf.Int64Value", False),
    ("num_batch_threads", 4, ".google.protobuf.Int64Value", False),
    ("thread_pool_name", 5, ".google.protobuf.StringValue", False),
    ("allowed_batch_sizes", 6, "int64", True),
    ("pad_variable_length_inputs", 7, "bool", False),
    ("enable_large_batch_splitting", 8, ".google.protobuf.BoolValue", False),
    ("max_execution_batch_size", 9, ".google.protobuf.Int64Value", False),
]


def _message_class():
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(descriptor_pb2.FileDescriptorProto.FromString(
        wrappers_pb2.DESCRIPTOR.serialized_pb).SerializeToString())
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="servescope/batching_parameters.proto", package="tensorflow.serving", syntax="proto3",
        dependency=[wrappers_pb2.DESCRIPTOR.name])
    message = file_proto.message_type.add(name="BatchingParameters")
    scalar = {"int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
              "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL}
    for name, number, kind, repeated in _FIELDS:
        field = message.field.add(name=name, number=number, label=(
            descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED if repeated
            else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL))
        if kind in scalar:
            field.type = scalar[kind]
        else:
            field.type, field.type_name = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE, kind
    pool.Add(file_proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


BatchingParameters = _message_class()


@dataclass(frozen=True)
class BatchingOptions:
    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = os.cpu_count() or 1
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False


def parse_batching_parameters(text: str, *, source: str) -> BatchingOptions:
    params = BatchingParameters()
    try:
        text_format.Parse(text, params)
    except text_format.ParseError as exc:
        raise ConfigError(f"invalid BatchingParameters text in {source}: {exc}") from exc
    defaults = BatchingOptions()

    def value(name: str) -> int:
        return getattr(params, name).value if params.HasField(name) else getattr(defaults, name)

    options = BatchingOptions(
        max_batch_size=value("max_batch_size"), batch_timeout_micros=value("batch_timeout_micros"),
        max_enqueued_batches=value("max_enqueued_batches"), num_batch_threads=value("num_batch_threads"),
        allowed_batch_sizes=tuple(params.allowed_batch_sizes),
        pad_variable_length_inputs=params.pad_variable_length_inputs)
    for name in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
        if getattr(options, name) < 1:
            raise ConfigError(f"{source}: {name} must be >= 1")
    if options.batch_timeout_micros < 0:
        raise ConfigError(f"{source}: batch_timeout_micros must be >= 0")
    sizes = options.allowed_batch_sizes
    if sizes:
        if any(b <= a for a, b in zip(sizes, sizes[1:])) or sizes[0] < 1:
            raise ConfigError(f"{source}: allowed_batch_sizes must be positive and increasing")
        if sizes[-1] != options.max_batch_size:  # TF Serving's own check and wording
            raise ConfigError(f"{source}: Last entry in allowed_batch_sizes must match max_batch_size; last entry "
                              f"was {sizes[-1]}; expected {options.max_batch_size}")
    return options


def read_batching_parameters(path: str | Path) -> BatchingOptions:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read batching parameters file {path}: {exc.strerror}") from exc
    return parse_batching_parameters(text, source=str(path))
