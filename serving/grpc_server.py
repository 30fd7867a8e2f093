"""The gRPC server of `python -m serving` (`--port`, default 8500): TF Serving's PredictionService and ModelService
on the same repository and model runner as the REST API, in the same process.

Channel settings follow tensorflow_model_server: `--grpc_channel_arguments` (key/value pairs handed to gRPC) and
`--grpc_max_threads` (the threads that handle calls; further calls wait for one). The largest request accepted
is `--max_request_bytes`, as for REST (gRPC refuses a larger message with RESOURCE_EXHAUSTED); responses may be
as large as TF Serving's (2 GiB - 1). The port is not shared: a second server on the same port fails to start
instead of splitting the traffic (gRPC's SO_REUSEPORT is off unless the channel arguments turn it on).

Starting it sets glibc's malloc to reuse large buffers (serving.memory.reuse_large_buffers, process-wide): without
that, each pixel batch's megabytes are freshly mapped, page by page, at every copy on the way in.
"""
from __future__ import annotations

import concurrent.futures
import os
from dataclasses import dataclass
from typing import Optional, Union

import grpc

from serving.grpc_handlers import Runner
from serving.grpc_service import GrpcApi, add_services
from serving.memory import reuse_large_buffers
from serving.metrics import ServerMetrics
from serving.repository import ModelRepository

DEFAULT_PORT = 8500
MAX_SEND_BYTES = 2**31 - 1  # TF Serving's builder.SetMaxMessageSize(INT32_MAX)
SHUTDOWN_GRACE_SECONDS = 5.0  # calls in flight at shutdown get this long to finish
ChannelArgument = tuple[str, Union[int, str]]


@dataclass(frozen=True)
class GrpcOptions:
    port: int = DEFAULT_PORT
    max_threads: int = 4 * (os.cpu_count() or 1)  # --grpc_max_threads: tensorflow_model_server's default
    max_receive_bytes: int = 64 * 1024 * 1024
    channel_arguments: tuple[ChannelArgument, ...] = ()
    tensor_content: bool = True  # --enable_serialization_as_tensor_content: Predict outputs as raw bytes


def listen_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class GrpcServer:
    """Binds at construction (OSError naming the address when it cannot), serves after start()."""

    def __init__(self, repo: ModelRepository, run: Runner, *, host: str, options: GrpcOptions,
                 metrics: Optional[ServerMetrics] = None):
        settings: dict[str, Union[int, str]] = {
            "grpc.so_reuseport": 0,
            "grpc.max_receive_message_length": options.max_receive_bytes,
            "grpc.max_send_message_length": MAX_SEND_BYTES,
        }
        settings.update(options.channel_arguments)  # the operator's arguments win
        reuse_large_buffers()
        self._pool = concurrent.futures.ThreadPoolExecutor(options.max_threads, thread_name_prefix="grpc")
        self._server = grpc.server(self._pool, options=list(settings.items()))
        add_services(self._server, GrpcApi(repo, run, metrics, tensor_content=options.tensor_content))
        address = listen_address(host, options.port)
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError as exc:
            raise OSError(f"cannot listen for gRPC on {address} (--port): {exc}") from None
        if not self.port:
            raise OSError(f"cannot listen for gRPC on {address} (--port): the address is in use or not local")
        self.address = listen_address(host, self.port)

    def start(self) -> None:
        self._server.start()

    def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Refuse new calls at once; calls in flight get `grace` seconds, then are cancelled."""
        self._server.stop(grace).wait()
        self._pool.shutdown(wait=False, cancel_futures=True)
