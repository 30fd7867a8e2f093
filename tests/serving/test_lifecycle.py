"""Version lifecycle: base-path polling, failing versions, config-file reloads, labels, clean shutdown."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.serving.conftest import write_config
from tests.support import ROOT, embedded_server, free_port, wait_until

pytestmark = pytest.mark.slow  # each test starts its own server process


def states(url: str, model: str) -> dict[str, tuple[str, str]]:
    try:
        reply = requests.get(f"{url}/v1/models/{model}", timeout=5)
    except requests.ConnectionError:  # not listening yet
        return {}
    if reply.status_code != 200:
        return {}
    return {s["version"]: (s["state"], s["status"]["error_code"]) for s in reply.json()["model_version_status"]}


def predict(url: str, path: str, x: float) -> requests.Response:
    return requests.post(f"{url}/v1/models/{path}:predict", json={"instances": [x]}, timeout=10)


def move_in(source: Path, target: Path) -> None:
    """Copy then rename, so the poller never sees a half-written version."""
    staging = target.parent / f".staging-{target.name}"
    shutil.copytree(source, staging)
    staging.rename(target)


def test_base_path_polling_loads_new_versions_and_ends_superseded_or_broken_ones(private_models, tmp_path):
    base = private_models / "half_plus_two"
    spare_v2 = tmp_path / "spare-v2"
    shutil.move(base / "2", spare_v2)
    args = ["--model_name=half_plus_two", f"--model_base_path={base}", "--file_system_poll_wait_seconds=1"]
    with embedded_server(args, wait_for_models={"half_plus_two": 1}) as url:
        assert states(url, "half_plus_two") == {"1": ("AVAILABLE", "OK")}
        assert predict(url, "half_plus_two", 1.0).json() == {"predictions": [2.5]}

        move_in(spare_v2, base / "2")  # latest policy (num_versions 1): v2 replaces v1
        wait_until(lambda: states(url, "half_plus_two") == {"2": ("AVAILABLE", "OK"), "1": ("END", "OK")},
                   timeout=30, what="v2 AVAILABLE and v1 END")
        assert predict(url, "half_plus_two", 1.0).json() == {"predictions": [3.5]}
        reply = predict(url, "half_plus_two/versions/1", 1.0)
        assert (reply.status_code, reply.json()) == (
            404, {"error": "Servable not found for request: Specific(half_plus_two, 1)"})

        (base / "3").mkdir()  # a version that cannot load: reported, server and v2 unharmed
        (base / "3" / "saved_model.pb").write_bytes(b"garbage")
        wait_until(lambda: states(url, "half_plus_two").get("3", ("",))[0] == "END", timeout=30, what="v3 END")
        assert states(url, "half_plus_two")["3"] == ("END", "UNKNOWN")
        # The broken v3 is now the only aspired version, so v2 is unloaded, as TF Serving does.
        wait_until(lambda: states(url, "half_plus_two").get("2") == ("END", "OK"), timeout=30, what="v2 END")
        reply = predict(url, "half_plus_two", 1.0)
        assert (reply.status_code, reply.json()) == (404, {"error": "Servable not found for request: Latest(half_plus_two)"})

        shutil.rmtree(base / "3")  # back to v2 (and a fixed v3 would be retried once it reappears)
        wait_until(lambda: states(url, "half_plus_two").get("2") == ("AVAILABLE", "OK"), timeout=30,
                   what="v2 AVAILABLE again")
        assert predict(url, "half_plus_two", 1.0).json() == {"predictions": [3.5]}


def test_config_file_polling_adds_and_removes_models_and_moves_labels(private_models, tmp_path):
    config = tmp_path / "models.config"
    config.write_text(f'model_config_list {{ config {{ name: "toolbox" base_path: "{private_models / "toolbox"}" '
                      'model_platform: "tensorflow" } }\n')
    args = [f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1"]
    with embedded_server(args, wait_for_models={"toolbox": 1}) as url:
        assert states(url, "half_plus_two") == {}
        write_config(config, private_models, labels={"stable": 1, "canary": 2})
        wait_until(lambda: states(url, "half_plus_two") == {"2": ("AVAILABLE", "OK"), "1": ("AVAILABLE", "OK")},
                   timeout=30, what="half_plus_two added by the config reload")
        wait_until(lambda: predict(url, "half_plus_two/labels/canary", 1.0).status_code == 200, timeout=10,
                   what="labels applied")
        assert predict(url, "half_plus_two/labels/canary", 1.0).json() == {"predictions": [3.5]}

        write_config(config, private_models, labels={"stable": 2, "canary": 7})  # 7 does not exist
        wait_until(lambda: predict(url, "half_plus_two/labels/stable", 1.0).json() == {"predictions": [3.5]},
                   timeout=30, what="stable moved to v2")
        # A label may only point at an AVAILABLE version: canary keeps its previous target.
        assert predict(url, "half_plus_two/labels/canary", 1.0).json() == {"predictions": [3.5]}

        config.write_text(f'model_config_list {{ config {{ name: "half_plus_two" base_path: '
                          f'"{private_models / "half_plus_two"}" }} }}\n')  # drops toolbox and the labels
        wait_until(lambda: states(url, "toolbox") == {"1": ("END", "OK")}, timeout=30, what="toolbox END")
        reply = predict(url, "half_plus_two/labels/stable", 1.0)
        assert (reply.status_code, reply.json()) == (400, {"error": "Unrecognized servable version label: stable"})

        config.write_text("model_config_list { this is not text format")  # a bad edit keeps the old config
        time.sleep(2.5)
        assert predict(url, "half_plus_two", 1.0).json() == {"predictions": [3.5]}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_promptly_with_exit_code_0(test_models, signum):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "serving", f"--rest_api_port={port}", "--port=0", "--model_name=toolbox",
         f"--model_base_path={test_models / 'toolbox'}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: states(url, "toolbox").get("1") == ("AVAILABLE", "OK"), timeout=120, what="toolbox")
        started = time.monotonic()
        proc.send_signal(signum)
        assert proc.wait(timeout=10) == 0
        took = time.monotonic() - started
        output = proc.stdout.read()
        assert "ServeScope model server ready: REST API at " + url in output
        assert f"received {signal.Signals(signum).name}; shutting down" in output
        print(f"{signal.Signals(signum).name}: exited 0 after {took:.2f} s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
