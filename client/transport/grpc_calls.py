"""What the gRPC transport tells watchers (e.g. the dashboard's request inspector) about each call it made: the method
path, the status code, the bytes each way and the time taken, never the messages. Imports no grpc, so a watcher
needs nothing but the base install to read it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

__all__ = ["GrpcCall", "CallHook", "report"]


@dataclass(frozen=True)
class GrpcCall:
    url: str                    # the address and the method path: grpc://host:8500/tensorflow.serving.…/Predict
    target: str                 # what the call asked for: "model 'pets', version 1"
    code: str                   # the gRPC status code's name: "OK", "INVALID_ARGUMENT", "UNAVAILABLE", …
    details: str                # the status message (client.errors.bounded), "" for OK
    request_bytes: int          # the serialized request
    answer_bytes: int | None    # the answer message's size; None when no answer message came
    seconds: float              # the call, gRPC's own retries included


CallHook = Callable[[GrpcCall], None]


def report(hooks: Iterable[CallHook], call: GrpcCall) -> None:
    """Hand `call` to every hook; a hook that raises is skipped (watching a call never fails it)."""
    for hook in list(hooks):
        try:
            hook(call)
        except Exception:  # noqa: BLE001 - a watcher's fault must not become the call's
            pass
