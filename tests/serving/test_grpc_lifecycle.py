"""The gRPC server's life: config reloads over ModelService, graceful shutdown, a port that is taken, --port=0."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.config import model_server_config_pb2

from tests.serving.grpc_support import RPC_TIMEOUT, failure, outputs_of, predict_request, rest_and_grpc_server
from tests.support import ROOT, embedded_server, free_port

pytestmark = pytest.mark.slow  # each test starts its own server process


def reload_request(*models: tuple[str, str]) -> model_management_pb2.ReloadConfigRequest:
    request = model_management_pb2.ReloadConfigRequest()
    for name, base_path in models:
        request.config.model_config_list.config.add(name=name, base_path=base_path, model_platform="tensorflow")
    return request


def predicted_y(servers, inputs) -> list[float]:
    return outputs_of(servers.predictions.Predict(predict_request("half_plus_two", inputs), RPC_TIMEOUT))["y"].tolist()


def test_reload_config_loads_new_models_before_answering_and_drops_removed_ones(private_models):
    toolbox = ("toolbox", str(private_models / "toolbox"))
    half_plus_two = ("half_plus_two", str(private_models / "half_plus_two"))
    with rest_and_grpc_server(["--model_name=toolbox", f"--model_base_path={toolbox[1]}"],
                              wait_for_models={"toolbox": 1}) as servers:
        x = {"x": np.array([2.0], np.float32)}
        assert failure(servers.predictions.Predict, predict_request("half_plus_two", x))[0] == "NOT_FOUND"

        response = servers.models.HandleReloadConfigRequest(reload_request(toolbox, half_plus_two), RPC_TIMEOUT)
        assert (response.status.error_code, response.status.error_message) == (0, "")
        # Loaded before the answer: latest version (2) serves at once, over gRPC and REST alike.
        assert predicted_y(servers, x) == [4.0]
        assert requests.post(f"{servers.rest}/v1/models/half_plus_two:predict", json={"instances": [2.0]},
                             timeout=30).json() == {"predictions": [4.0]}

        servers.models.HandleReloadConfigRequest(reload_request(half_plus_two), RPC_TIMEOUT)
        text = {"text_bytes": np.array([b"a"], dtype=object)}
        assert failure(servers.predictions.Predict, predict_request("toolbox", text)) == (
            "NOT_FOUND", "Servable not found for request: Latest(toolbox)")

        code, details = failure(servers.models.HandleReloadConfigRequest,
                                reload_request(half_plus_two, ("broken", str(private_models / "broken"))))
        # ServerCore::WaitUntilModelsAvailable's wording: {ServableId DebugString + health}, ...
        assert (code, details) == ("UNKNOWN", "1 model(s) did not become available: {{{name: broken version: 1} due "
                                              "to error: UNKNOWN: DecodeError: Error parsing message with type "
                                              "'tensorflow.SavedModel': Wire format was corrupt}, }")
        assert predicted_y(servers, x) == [4.0]


@pytest.mark.parametrize("request_, details", [
    (model_management_pb2.ReloadConfigRequest(),
     "ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is currently supported"),
    (model_management_pb2.ReloadConfigRequest(config=model_server_config_pb2.ModelServerConfig(
        model_config_list={"config": [{"name": "a", "base_path": "/m/a"}, {"name": "a", "base_path": "/m/b"}]})),
     "ReloadConfigRequest: model name 'a' appears twice"),
])
def test_reload_config_refuses_what_tf_serving_refuses(private_models, request_, details):
    with rest_and_grpc_server(["--model_name=toolbox", f"--model_base_path={private_models / 'toolbox'}"],
                              wait_for_models={"toolbox": 1}) as servers:
        assert failure(servers.models.HandleReloadConfigRequest, request_) == ("INVALID_ARGUMENT", details)


def test_sigterm_lets_a_call_in_flight_finish_then_refuses_new_ones_and_exits_0(test_models):
    with rest_and_grpc_server(["--model_name=toolbox", f"--model_base_path={test_models / 'toolbox'}"],
                              wait_for_models={"toolbox": 1}) as servers:
        spin = predict_request("toolbox", {"n": np.array([100_000], np.int64)}, signature="spin")  # about 1 s of work
        in_flight = servers.predictions.Predict.future(spin, timeout=60)
        time.sleep(0.3)
        assert not in_flight.done()
        servers.process.send_signal(signal.SIGTERM)
        assert outputs_of(in_flight.result())["count"].tolist() == [100_000]
        assert servers.process.wait(timeout=20) == 0
        code, _ = failure(servers.predictions.Predict, spin, timeout=5)
        assert code == "UNAVAILABLE"


def test_a_grpc_port_in_use_stops_the_server_at_startup_with_exit_code_2(test_models):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "serving", f"--rest_api_port={free_port()}", f"--port={port}",
             "--model_name=toolbox", f"--model_base_path={test_models / 'toolbox'}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"error: cannot listen for gRPC on 127.0.0.1:{port} (--port)" in result.stderr


def ready_line(rest_url: str) -> str:
    """The server's "ready" log line (tests.support logs each server to $TMPDIR/servescope-server-<port>.log)."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"servescope-server-{urlsplit(rest_url).port}.log"
    return next(line for line in log.read_text().splitlines() if "model server ready" in line)


def test_the_ready_line_names_both_apis_and_port_0_turns_grpc_off(test_models):
    args = ["--model_name=toolbox", f"--model_base_path={test_models / 'toolbox'}"]
    with rest_and_grpc_server(args, wait_for_models={"toolbox": 1}) as servers:
        assert ready_line(servers.rest).endswith(
            f"ServeScope model server ready: REST API at {servers.rest}, gRPC API at {servers.grpc_address} — "
            "toolbox (v1 AVAILABLE)")
    with embedded_server(args, wait_for_models={"toolbox": 1}) as url:  # tests.support passes --port=0
        assert ready_line(url).endswith(f"ServeScope model server ready: REST API at {url} — toolbox (v1 AVAILABLE)")
