"""`python -m launcher` as a subprocess: starts what is missing, waits, and stops both children cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from launcher import supervise as launch
from tests.dashboard.browser.test_deployment import listening_addresses
from tests.support import PETS_CONFIG, ROOT, fake_model_handler, free_port, json_response, models_available, wait_until


class Launcher:
    def __init__(self, *args: str, module: str = "launcher") -> None:
        self.lines: list[str] = []
        env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
        self.proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 240) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None and text not in self.output():
                raise AssertionError(f"launcher exited {self.proc.returncode} before '{text}':\n{self.output()}")
            return text in self.output()
        wait_until(seen, timeout=timeout, what=f"'{text}' from the launcher")

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def refuses(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.ConnectionError:
        return True
    return False


def dashboard_health(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).text


@pytest.mark.slow
def test_starts_server_and_dashboard_and_sigint_stops_both():
    if not PETS_CONFIG.exists():
        pytest.fail(f"{PETS_CONFIG} is missing: run `python -m pets.build`")
    serving_url, dashboard_port = f"http://127.0.0.1:{free_port()}", free_port()
    launcher = Launcher("--url", serving_url, "--dashboard-port", str(dashboard_port))
    try:
        launcher.wait_for("[launch] ready")
        serving_port = int(serving_url.rsplit(":", 1)[1])
        assert (f"[launch] starting the model server at {serving_url}, listening on 127.0.0.1:{serving_port} "
                f"(loopback: this machine only) ({PETS_CONFIG})") in launcher.output()
        assert listening_addresses(serving_port) == {"0100007F"}  # 127.0.0.1 only
        assert f"dashboard: http://localhost:{dashboard_port}  model server: {serving_url}" in launcher.output()
        assert models_available(serving_url, {"pets": 2})
        assert dashboard_health(dashboard_port) == "ok"
        assert launcher.stop(signal.SIGINT) == 0
    finally:
        launcher.kill()
    assert refuses(f"{serving_url}/v1/models/pets") and refuses(f"http://127.0.0.1:{dashboard_port}/_stcore/health")
    assert "[launch] dashboard stopped" in launcher.output() and "[launch] serving stopped" in launcher.output()


@pytest.mark.slow
def test_reuses_a_server_that_already_answers_and_leaves_it_running(pets_server_url):
    dashboard_port = free_port()
    launcher = Launcher("--url", pets_server_url, "--dashboard-port", str(dashboard_port))
    try:
        launcher.wait_for("[launch] ready")
        assert (f"[launch] a model server already answers at {pets_server_url}: starting only the dashboard"
                in launcher.output())
        assert "[serving]" not in launcher.output()
        assert launcher.stop(signal.SIGTERM) == 0
    finally:
        launcher.kill()
    assert refuses(f"http://127.0.0.1:{dashboard_port}/_stcore/health")
    assert models_available(pets_server_url, {"pets": 2})


@pytest.mark.slow
def test_starts_the_dashboard_anyway_when_no_server_can_be_started(tmp_path):
    serving_url, dashboard_port = f"http://127.0.0.1:{free_port()}", free_port()
    missing = tmp_path / "models.config"
    launcher = Launcher("--url", serving_url, "--dashboard-port", str(dashboard_port), "--model-config", str(missing))
    try:
        launcher.wait_for("[launch] ready", timeout=120)
        assert (f"[launch] cannot start a model server: {missing} is missing (build the demo model with `make pets` "
                f"or `python -m pets.build`). Starting the dashboard anyway" in launcher.output())
        assert dashboard_health(dashboard_port) == "ok"
        assert launcher.stop(signal.SIGINT) == 0
    finally:
        launcher.kill()


@pytest.mark.slow
def test_fails_clearly_when_the_server_dies_while_loading(tmp_path):
    bad_config = tmp_path / "models.config"
    bad_config.write_text("model_config_list { this is not a ModelServerConfig }\n")
    serving_url = f"http://127.0.0.1:{free_port()}"
    launcher = Launcher("--url", serving_url, "--dashboard-port", str(free_port()), "--model-config", str(bad_config))
    try:
        assert launcher.proc.wait(timeout=120) == 1
    finally:
        launcher.kill()
    assert "[launch] the model server exited with code" in launcher.output()
    assert "before model 'pets' was available; its last output:" in launcher.output()
    assert "[dashboard]" not in launcher.output()


def test_reasons_a_server_cannot_be_started(monkeypatch, tmp_path):
    config_file = tmp_path / "models.config"
    config_file.write_text("")
    assert launch.serving_unavailable_reason("http://127.0.0.1:8501", config_file) is None
    assert launch.serving_unavailable_reason("http://serving:8501", config_file) == (
        "http://serving:8501 is not on this machine, so the launcher cannot start a model server there")
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: None)
    assert launch.serving_unavailable_reason("http://localhost:8501", config_file) == (
        "TensorFlow is not installed (install the serving extra: pip install -e '.[serving]')")


@pytest.mark.slow
def test_the_model_server_listens_on_all_interfaces_only_when_told():
    port = free_port()
    launcher = Launcher("--url", f"http://0.0.0.0:{port}", "--model-server-host", "0.0.0.0", "--dashboard-port",
                        str(free_port()))
    try:
        launcher.wait_for("[launch] model 'pets' is available")
        assert (f"[launch] starting the model server at http://0.0.0.0:{port}, listening on 0.0.0.0:{port} "
                f"(all interfaces: other machines can reach it)") in launcher.output()
        assert listening_addresses(port) == {"00000000"}
        assert launcher.stop(signal.SIGTERM) == 0
    finally:
        launcher.kill()


def test_a_url_on_all_interfaces_without_the_flag_is_refused():
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "launcher", "--url", f"http://0.0.0.0:{port}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert (f"python -m launcher: error: --url http://0.0.0.0:{port} would make the embedded model server listen on "
            f"all interfaces; it listens on loopback unless told otherwise: pass --model-server-host 0.0.0.0 to mean "
            f"it, or use --url http://127.0.0.1:{port}") in result.stderr
    assert refuses(f"http://127.0.0.1:{port}/v1/models/pets")


@pytest.mark.parametrize("url, flag, host", [
    ("http://127.0.0.1:8501", None, "127.0.0.1"), ("http://localhost:8501", None, "127.0.0.1"),
    ("http://[::1]:8501", None, "::1"), ("http://0.0.0.0:8501", "0.0.0.0", "0.0.0.0"),
    ("http://127.0.0.1:8501", "0.0.0.0", "0.0.0.0"), ("http://[::]:8501", "[::]", "::"),
    ("http://localhost:8501", "127.0.0.1", "127.0.0.1"), ("http://10.1.2.3:8501", "10.1.2.3", "10.1.2.3"),
])
def test_the_model_server_listens_on_loopback_unless_told(url, flag, host):
    assert launch.model_server_host(url, flag) == host


def test_the_model_server_address_must_serve_the_url():
    with pytest.raises(ValueError) as caught:
        launch.model_server_host("http://[::]:8501", None)
    assert str(caught.value) == (
        "--url http://[::]:8501 would make the embedded model server listen on all interfaces; it listens on loopback "
        "unless told otherwise: pass --model-server-host :: to mean it, or use --url http://127.0.0.1:8501")
    with pytest.raises(ValueError) as caught:
        launch.model_server_host("http://127.0.0.1:8501", "10.1.2.3")
    assert str(caught.value) == ("--model-server-host 10.1.2.3 does not serve --url http://127.0.0.1:8501: give the "
                                 "same address in both, or 0.0.0.0 to listen on all interfaces")
    assert launch.listening_on("::1", 8501) == "[::1]:8501 (loopback: this machine only)"
    assert launch.listening_on("10.1.2.3", 8501) == "10.1.2.3:8501"


def test_commands_follow_the_url_and_config():
    assert launch.serving_command("http://127.0.0.1:9001", ROOT / "m.config")[2:] == [
        "serving", f"--model_config_file={ROOT / 'm.config'}", "--rest_api_port=9001", "--port=0", "--host=127.0.0.1"]
    assert launch.serving_command("http://0.0.0.0", ROOT / "m.config", "0.0.0.0")[-3:] == [
        "--rest_api_port=8501", "--port=0", "--host=0.0.0.0"]
    # The dashboard starts through dashboard_app.py: Streamlit's ASGI mode with the Host check (docs/security.md).
    assert launch.dashboard_command(None)[2:] == ["streamlit", "run", str(ROOT / "dashboard_app.py"),
                                                  "--server.headless=true", "--client.toolbarMode=viewer"]
    assert launch.dashboard_command(9002)[-1] == "--server.port=9002"
    assert launch.configured_dashboard_port() == 8502


def test_readiness_is_read_through_the_client(fake_server, unreachable_url):
    """An unknown model's 404 is an answer (a server listens); only AVAILABLE versions, none loading, are ready."""
    loading = {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
        {"version": "2", "state": "LOADING", "status": {"error_code": "OK", "error_message": ""}}]}
    server = fake_server(lambda request: json_response(loading) if request.path == "/v1/models/pets" else
                         json_response({"error": "Servable not found for request: Latest(other)"}, 404))
    assert launch.server_answers(server.url, "pets") and launch.server_answers(server.url, "other")
    assert not launch.model_ready(server.url, "pets", 1)  # version 2 is still loading
    assert not launch.model_ready(server.url, "other", 1)
    ready = fake_server(fake_model_handler(version=3))
    assert launch.model_ready(ready.url, "pets", 1) and not launch.model_ready(ready.url, "pets", 2)
    assert not launch.server_answers(unreachable_url, "pets") and not launch.model_ready(unreachable_url, "pets", 1)
