"""`python -m serving`: command-line flags mirroring tensorflow_model_server's, then run the server."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Optional, Sequence

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024


def _flag_bool(text: str) -> bool:
    """tensorflow_model_server's boolean flags: --flag, --flag=true, --flag=false (also 1/0)."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serving",
        description="A TF Serving-compatible REST server for SavedModels (flags as tensorflow_model_server's).")
    add = parser.add_argument
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
        help="refuse larger request bodies with 413 (default 64 MiB)")
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
    for flag in ("rest_api_port", "max_request_bytes", "rest_api_num_threads"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag} must be positive")
    for flag in ("file_system_poll_wait_seconds", "model_config_file_poll_wait_seconds", "rest_api_timeout_in_ms"):
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
