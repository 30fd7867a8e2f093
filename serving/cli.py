"""`python -m serving`: command-line flags mirroring tensorflow_model_server's, then run the server."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Optional, Sequence, Union

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024


def _flag_bool(text: str) -> bool:
    """tensorflow_model_server's boolean flags: --flag, --flag=true, --flag=false (also 1/0)."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def channel_arguments(text: str) -> list[tuple[str, Union[int, str]]]:
    """--grpc_channel_arguments as tensorflow_model_server reads it: `key=value,...`, a value that parses as an
    int32 passed as an integer, any other as a string."""
    arguments: list[tuple[str, Union[int, str]]] = []
    for item in text.split(",") if text else []:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise argparse.ArgumentTypeError(f"expected comma-separated key=value pairs, got {item!r}")
        try:
            number = int(value)
        except ValueError:
            arguments.append((key, value))
        else:
            arguments.append((key, number) if -2**31 <= number < 2**31 else (key, value))
    return arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serving",
        description="A TF Serving-compatible REST and gRPC server for SavedModels (flags as "
                    "tensorflow_model_server's).")
    add = parser.add_argument
    add("--port", type=int, default=8500, help="port of the gRPC API (default 8500; 0 = no gRPC API)")
    add("--rest_api_port", type=int, default=8501, help="port of the REST API (default 8501)")
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)")
    add("--model_name", default=None, help="name of the single model to serve (default: $MODEL_NAME)")
    add("--model_base_path", default=None,
        help="directory holding the model's numbered versions (default: $MODEL_BASE_PATH/$MODEL_NAME, "
             "as in the tensorflow/serving image)")
    add("--model_config_file", default="", help="ModelServerConfig in text format (several models, policies, labels)")
    add("--model_config_file_poll_wait_seconds", type=float, default=0,
        help="re-read --model_config_file this often (default 0 = never)")
    add("--file_system_poll_wait_seconds", type=float, default=1,
        help="look for new/removed versions this often (default 1; 0 = only at startup)")
    add("--rest_api_timeout_in_ms", type=int, default=30000,
        help="fail a model run that takes longer with 504 DEADLINE_EXCEEDED (default 30000; 0 = no limit)")
    add("--rest_api_num_threads", type=int, default=max(4, 2 * (os.cpu_count() or 1)),
        help="model runs served at once (default: max(4, 2 x cores))")
    add("--max_request_bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES,
        help="refuse larger requests: 413 over REST, RESOURCE_EXHAUSTED over gRPC (default 64 MiB)")
    add("--grpc_max_threads", type=int, default=4 * (os.cpu_count() or 1),
        help="threads handling gRPC calls (default 4 x cores); further calls wait")
    add("--grpc_channel_arguments", type=channel_arguments, default=[],
        help="gRPC server arguments, comma-separated key=value; int32 values are passed as integers "
             "(e.g. grpc.max_connection_age_ms=2000)")
    add("--enable_serialization_as_tensor_content", type=_flag_bool, nargs="?", const=True, default=True,
        help="gRPC Predict answers numeric tensors as raw tensor_content bytes (default true; false: the typed "
             "*_val fields, TF Serving's default)")
    add("--tensorflow_intra_op_parallelism", type=int, default=0, help="TensorFlow intra-op threads (0 = TF default)")
    add("--tensorflow_inter_op_parallelism", type=int, default=0, help="TensorFlow inter-op threads (0 = TF default)")
    add("--enable_batching", type=_flag_bool, nargs="?", const=True, default=False,
        help="merge concurrent requests for the same model version and signature into one model run")
    add("--batching_parameters_file", default="",
        help="BatchingParameters in text format (max_batch_size, batch_timeout_micros, num_batch_threads, "
             "max_enqueued_batches, allowed_batch_sizes, pad_variable_length_inputs); implies nothing without "
             "--enable_batching")
    add("--enable_model_warmup", type=_flag_bool, nargs="?", const=True, default=True,
        help="replay assets.extra/tf_serving_warmup_requests before a version turns AVAILABLE (default true)")
    add("--log_level", default="INFO", help="Python logging level (default INFO)")
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model_config_file:
        # As in tensorflow_model_server, the config file overrides --model_name/--model_base_path.
        args.model_name = args.model_base_path = None
    else:
        # Like the tensorflow/serving image: MODEL_NAME and MODEL_BASE_PATH from the environment.
        args.model_name = args.model_name or os.environ.get("MODEL_NAME", "")
        if not args.model_base_path and os.environ.get("MODEL_BASE_PATH") and args.model_name:
            args.model_base_path = os.path.join(os.environ["MODEL_BASE_PATH"], args.model_name)
        if not args.model_name:
            parser.error("give --model_config_file, or --model_name with --model_base_path (or MODEL_NAME/"
                         "MODEL_BASE_PATH in the environment)")
        if not args.model_base_path:
            parser.error(f"--model_base_path is required for --model_name={args.model_name}")
    for flag in ("rest_api_port", "max_request_bytes", "rest_api_num_threads", "grpc_max_threads"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag} must be positive")
    if args.port == args.rest_api_port:
        parser.error(f"--port (gRPC) and --rest_api_port must differ; both are {args.port}")
    for flag in ("port", "file_system_poll_wait_seconds", "model_config_file_poll_wait_seconds",
                 "rest_api_timeout_in_ms"):
        if getattr(args, flag) < 0:
            parser.error(f"--{flag} must be >= 0")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from serving.config import ConfigError  # imported late: TensorFlow is slow to import, argparse errors are not
    from serving.server import ModelServer

    try:
        server = ModelServer.from_args(args)
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return server.run()
