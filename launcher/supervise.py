"""`python -m launcher [--url URL]` (what `make run` calls): the model server if needed, then the dashboard.

If the TF Serving URL already answers, only the dashboard starts. Otherwise `python -m serving` is started on the
URL's port (its REST port, or for a grpc://host:port URL its gRPC port, --port) and the dashboard waits until the
model's versions are AVAILABLE (the launcher fails clearly if the server dies first). The embedded server listens on loopback unless --model-server-host names another address; a
URL on all interfaces (0.0.0.0, [::]) without that flag is refused. When no server can be started (TensorFlow
missing, model not built), the dashboard starts anyway and says so. The dashboard starts through dashboard_app.py
(Streamlit's ASGI mode with the Host check). Ctrl-C or SIGTERM stops both children, dashboard first.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import requests

from client import (InvalidArgumentError, RequestTimeoutError, ServerUnavailableError, TFServingClient,
                    TFServingError)
from client.arguments import GRPC_PORT
from dashboard import config

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_CONFIG = ROOT / "pets" / "models.config"
DEFAULT_DASHBOARD_PORT = 8502
# What `streamlit run` starts: st.App around streamlit_app.py behind the Host check (docs/security.md).
DASHBOARD_ENTRY = ROOT / "dashboard_app.py"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
ALL_INTERFACES = {"0.0.0.0", "::"}
LOCAL_HOSTS = LOOPBACK_HOSTS | ALL_INTERFACES


def url_port(url: str) -> int:
    """The URL's port, else TF Serving's default for its scheme: 8500 for grpc://, 8501 for http(s)://."""
    parts = urlsplit(url)
    return parts.port or (GRPC_PORT if parts.scheme == "grpc" else 8501)


def log(message: str) -> None:
    print(f"[launch] {message}", flush=True)


class Child:
    """A child process in its own session (so Ctrl-C reaches only the launcher, which stops children in order),
    with its output echoed line by line under a prefix and the last lines kept for error messages."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace", bufsize=1, start_new_session=True)
        self._pump = threading.Thread(target=self._echo, name=f"{name}-output", daemon=True)
        self._pump.start()

    def _echo(self) -> None:
        for line in self.proc.stdout:
            self.tail.append(line.rstrip())
            print(f"[{self.name}] {line}", end="", flush=True)

    def exited(self) -> int | None:
        return self.proc.poll()

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM for {timeout:.0f}s: killing it")
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._pump.join(timeout=2)
        return self.proc.returncode


def _status(url: str, model: str):
    """The model's versions through the client (the one reader of TF Serving's status answer)."""
    with TFServingClient(url, model, timeout=2, retries=0) as client:
        return client.status()


def server_answers(url: str, model: str) -> bool:
    """Any HTTP answer counts (an unknown model's 404 too): something already listens there, so starting
    another server would clash."""
    try:
        _status(url, model)
    except InvalidArgumentError:
        return False
    except (ServerUnavailableError, RequestTimeoutError) as exc:
        return exc.status is not None  # a 5xx is an answer; a refused connection or silence is not
    except TFServingError:
        return True
    return True


def model_ready(url: str, model: str, min_available: int) -> bool:
    """At least `min_available` versions AVAILABLE and none still loading."""
    try:
        states = [status.state for status in _status(url, model)]
    except TFServingError:
        return False
    return states.count("AVAILABLE") >= min_available and not {"START", "LOADING"} & set(states)


def serving_unavailable_reason(url: str, model_config: Path) -> str | None:
    """Why `python -m serving` cannot be started here, or None when it can."""
    host = urlsplit(url).hostname or ""
    if host not in LOCAL_HOSTS:
        return f"{url} is not on this machine, so the launcher cannot start a model server there"
    if importlib.util.find_spec("tensorflow") is None:
        return "TensorFlow is not installed (install the serving extra: pip install -e '.[serving]')"
    if not model_config.exists():
        return f"{model_config} is missing (build the demo model with `make pets` or `python -m pets.build`)"
    return None


def model_server_host(url: str, requested: str | None) -> str:
    """The address the embedded model server listens on: `requested` (--model-server-host) when given, else the
    URL's loopback address. ValueError naming --model-server-host when the URL asks for all interfaces without it,
    or when the server would listen where the URL does not reach it."""
    host = urlsplit(url).hostname or "127.0.0.1"
    if requested is None:
        if host in ALL_INTERFACES:
            raise ValueError(f"--url {url} would make the embedded model server listen on all interfaces; it listens "
                             f"on loopback unless told otherwise: pass --model-server-host {host} to mean it, or use "
                             f"--url {urlsplit(url).scheme}://127.0.0.1:{url_port(url)}")
        return "127.0.0.1" if host == "localhost" else host
    requested = requested.strip().strip("[]").lower()
    same_address = requested == host or {requested, host} <= {"localhost", "127.0.0.1"}
    if requested not in ALL_INTERFACES and not same_address:
        raise ValueError(f"--model-server-host {requested} does not serve --url {url}: give the same address in both, "
                         f"or 0.0.0.0 to listen on all interfaces")
    return requested


def listening_on(host: str, port: int) -> str:
    """'127.0.0.1:8501 (loopback: this machine only)' and the like, for the launcher's log."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if host in LOOPBACK_HOSTS:
        return f"{address} (loopback: this machine only)"
    if host in ALL_INTERFACES:
        return f"{address} (all interfaces: other machines can reach it)"
    return address


def serving_command(url: str, model_config: Path, host: str = "127.0.0.1") -> list[str]:
    """`python -m serving` answering at `url`: on its REST port, or on its gRPC port (--port) for grpc://. For an
    http(s) URL the gRPC API stays closed (--port=0): the launcher opens only the port the dashboard uses."""
    if urlsplit(url).scheme == "grpc":
        ports = [f"--port={url_port(url)}"]
    else:
        ports = [f"--rest_api_port={url_port(url)}", "--port=0"]
    return [sys.executable, "-m", "serving", f"--model_config_file={model_config}", *ports, f"--host={host}"]


def configured_dashboard_port() -> int:
    """Streamlit reads .streamlit/config.toml itself; the launcher only needs the port to print and poll."""
    try:
        with open(ROOT / ".streamlit" / "config.toml", "rb") as handle:
            return int(tomllib.load(handle).get("server", {}).get("port", DEFAULT_DASHBOARD_PORT))
    except (OSError, tomllib.TOMLDecodeError, ValueError):
        return DEFAULT_DASHBOARD_PORT


def dashboard_command(port: int | None) -> list[str]:
    # .streamlit/config.toml holds the rest (loopback address, no error details, no developer toolbar); these
    # two are repeated so a config file elsewhere cannot turn them off for `make run`.
    argv = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD_ENTRY), "--server.headless=true",
            "--client.toolbarMode=viewer"]
    if port is not None:
        argv.append(f"--server.port={port}")
    return argv


def dashboard_healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m launcher", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=config.default_url(),
                        help="TF Serving REST URL, or grpc://host:8500 for its gRPC API (default: $TF_SERVING_URL "
                             "or %(default)s)")
    parser.add_argument("--model", default=config.default_model(), help="model to wait for (default: %(default)s)")
    parser.add_argument("--model-config", type=Path, default=DEFAULT_MODEL_CONFIG,
                        help="ModelServerConfig for the embedded server (default: pets/models.config)")
    parser.add_argument("--model-server-host", default=None, metavar="ADDRESS",
                        help="address the embedded model server listens on (default: loopback, the --url's "
                             "127.0.0.1 or ::1; 0.0.0.0 for all interfaces)")
    parser.add_argument("--dashboard-port", type=int, default=None,
                        help="Streamlit port (default: .streamlit/config.toml, 8502)")
    parser.add_argument("--min-available", type=int, default=1,
                        help="versions that must be AVAILABLE before the dashboard starts (default: %(default)s)")
    parser.add_argument("--wait-timeout", type=float, default=300.0,
                        help="seconds to wait for the model to load (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        # The client's rule (a grpc:// URL without the grpc extra is refused here, naming it).
        args.url = config.check_url(args.url, "--url")
        args.bind_host = model_server_host(args.url, args.model_server_host)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.url.rstrip("/")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: stop.set())

    children: list[Child] = []
    exit_code = 0
    try:
        if server_answers(url, args.model):
            log(f"a model server already answers at {url}: starting only the dashboard")
        elif reason := serving_unavailable_reason(url, args.model_config):
            log(f"cannot start a model server: {reason}. Starting the dashboard anyway; it will say that no "
                f"server is reachable at {url}.")
        else:
            log(f"starting the model server at {url}, listening on "
                f"{listening_on(args.bind_host, url_port(url))} ({args.model_config})")
            server = Child("serving", serving_command(url, args.model_config, args.bind_host),
                           dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1"))
            children.append(server)
            deadline = time.monotonic() + args.wait_timeout
            while not model_ready(url, args.model, args.min_available):
                if stop.is_set():
                    return 0
                if (code := server.exited()) is not None:
                    log(f"the model server exited with code {code} before model '{args.model}' was available; "
                        f"its last output:\n" + "\n".join(server.tail))
                    return 1
                if time.monotonic() > deadline:
                    log(f"model '{args.model}' was not available at {url} after {args.wait_timeout:.0f}s")
                    return 1
                stop.wait(0.5)
            log(f"model '{args.model}' is available at {url}")

        port = args.dashboard_port or configured_dashboard_port()
        dashboard = Child("dashboard", dashboard_command(args.dashboard_port),
                          dict(os.environ, TF_SERVING_URL=url, SERVESCOPE_MODEL=args.model, PYTHONUNBUFFERED="1"))
        children.append(dashboard)
        while not dashboard_healthy(port) and dashboard.exited() is None and not stop.is_set():
            stop.wait(0.3)
        if dashboard.exited() is None and not stop.is_set():
            log(f"ready — dashboard: http://localhost:{port}  model server: {url}  (Ctrl-C stops both)")

        while not stop.is_set():
            for child in children:
                if (code := child.exited()) is not None:
                    log(f"{child.name} exited with code {code}; stopping")
                    exit_code = code or 1
                    stop.set()
            stop.wait(0.3)
        return exit_code
    finally:
        for child in reversed(children):
            code = child.stop()
            log(f"{child.name} stopped (exit code {code})")

