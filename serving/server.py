"""ModelServer: the repository, its pollers, the HTTP server (waitress, serving/http.py), the gRPC server and a
clean shutdown on SIGTERM/SIGINT."""
from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Optional

from serving.app import AppOptions, ServingApp
from serving.batching_config import BatchingOptions, read_batching_parameters
from serving.config import ConfigError, read_config_file, single_model_config
from serving.grpc_server import GrpcOptions, GrpcServer
from serving.http import HttpServer
from serving.repository import ModelRepository
from serving.warmup import load_and_warm_up

log = logging.getLogger("serving")


class ModelServer:
    def __init__(self, *, host: str, port: int, options: AppOptions, config_file: Optional[Path],
                 initial_config, fs_poll_seconds: float, config_poll_seconds: float, warmup: bool = True,
                 grpc_options: Optional[GrpcOptions] = None):
        self.repo = ModelRepository(loader=functools.partial(load_and_warm_up, warmup=warmup))
        self.app = ServingApp(self.repo, options)
        self.config_file = config_file
        self.fs_poll_seconds = fs_poll_seconds
        self.config_poll_seconds = config_poll_seconds if config_file else 0
        self.repo.apply_config(list(initial_config.model_config_list.config))
        self._stopping = threading.Event()
        # Worker threads: as many as model runs may run at once, and as many again for status and metadata
        # requests and requests waiting for a run. Connections are not threads (serving/http.py).
        self.http = HttpServer(self.app, host=host, port=port, max_request_bytes=options.max_request_bytes,
                               threads=2 * options.num_threads)
        self.url = f"http://{host}:{self.http.port}"
        # gRPC (serving/grpc_server.py): the same repository and model runner, serving from now on.
        self.grpc = (GrpcServer(self.repo, self.app._run, host=host, options=grpc_options, metrics=self.app.metrics)
                     if grpc_options else None)
        if self.grpc:
            self.grpc.start()

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "ModelServer":
        _configure_tensorflow(args)
        if args.model_config_file:
            config_file: Optional[Path] = Path(args.model_config_file)
            config = read_config_file(config_file)
        else:
            config_file, config = None, single_model_config(args.model_name, args.model_base_path)
        batching = None
        if args.enable_batching:
            batching = (read_batching_parameters(args.batching_parameters_file) if args.batching_parameters_file
                        else BatchingOptions())
            log.info("request batching on: %s", batching)
        options = AppOptions(max_request_bytes=args.max_request_bytes,
                             timeout_seconds=args.rest_api_timeout_in_ms / 1000 or None,
                             num_threads=args.rest_api_num_threads, batching=batching)
        grpc_options = GrpcOptions(port=args.port, max_threads=args.grpc_max_threads,
                                   max_receive_bytes=args.max_request_bytes,
                                   channel_arguments=tuple(args.grpc_channel_arguments),
                                   tensor_content=args.enable_serialization_as_tensor_content) if args.port else None
        return cls(host=args.host, port=args.rest_api_port, options=options, config_file=config_file,
                   initial_config=config, fs_poll_seconds=args.file_system_poll_wait_seconds,
                   config_poll_seconds=args.model_config_file_poll_wait_seconds, warmup=args.enable_model_warmup,
                   grpc_options=grpc_options)

    # ---- background work ---------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        """Initial load, then re-read the config and rescan base paths on their own schedules."""
        self.repo.reconcile()
        grpc_text = f", gRPC API at {self.grpc.address}" if self.grpc else ""
        log.info("ServeScope model server ready: REST API at %s%s — %s", self.url, grpc_text,
                 _describe(self.repo.summary()))
        next_fs = self.fs_poll_seconds
        next_config = self.config_poll_seconds
        tick = min(x for x in (self.fs_poll_seconds, self.config_poll_seconds, 1.0) if x > 0)
        elapsed = 0.0
        while not self._stopping.wait(tick):
            elapsed += tick
            changed = False
            if self.config_poll_seconds and elapsed >= next_config:
                next_config = elapsed + self.config_poll_seconds
                changed = self._reload_config()
            if (self.fs_poll_seconds and elapsed >= next_fs) or changed:
                next_fs = elapsed + self.fs_poll_seconds
                try:
                    self.repo.reconcile()
                except Exception:  # keep polling whatever happens on disk
                    log.exception("model repository poll failed")

    def _reload_config(self) -> bool:
        try:
            config = read_config_file(self.config_file)
        except ConfigError as exc:
            log.error("keeping the previous model config: %s", exc)
            return False
        self.repo.apply_config(list(config.model_config_list.config))
        return True

    # ---- lifecycle ---------------------------------------------------------------------------------
    def run(self) -> int:
        def stop(signum, _frame):
            log.info("received %s; shutting down", signal.Signals(signum).name)
            self._stopping.set()
            raise SystemExit(0)  # raised in the main thread, which runs the server's loop: run() returns

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        poller = threading.Thread(target=self._poll_loop, name="model-poller", daemon=True)
        poller.start()
        log.info("listening on %s (models loading: %s)", self.url, ", ".join(self.repo.model_names()))
        try:
            self.http.run()
        finally:
            self._stopping.set()
            if self.grpc:
                self.grpc.stop()
            self.http.close()
            self.app.close()
        log.info("server stopped")
        logging.shutdown()
        # Skip TensorFlow's slow interpreter teardown; everything worth flushing is flushed.
        os._exit(0)


def _configure_tensorflow(args: argparse.Namespace) -> None:
    import tensorflow as tf

    if args.tensorflow_intra_op_parallelism:
        tf.config.threading.set_intra_op_parallelism_threads(args.tensorflow_intra_op_parallelism)
    if args.tensorflow_inter_op_parallelism:
        tf.config.threading.set_inter_op_parallelism_threads(args.tensorflow_inter_op_parallelism)


def _describe(summary: dict[str, dict[int, str]]) -> str:
    parts = []
    for model, versions in sorted(summary.items()):
        states = ", ".join(f"v{v} {s}" for v, s in sorted(versions.items())) or "no versions found"
        parts.append(f"{model} ({states})")
    return "; ".join(parts) or "no models"
