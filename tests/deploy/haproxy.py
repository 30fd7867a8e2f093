"""Real embedded servers behind a real HAProxy (Debian's /usr/sbin/haproxy), all on loopback.

Used by tests/deploy/test_load_balancer.py and benchmarks/replicas.py. HAProxy does what a Kubernetes Service
or an ingress does in front of TF Serving replicas: round-robin, health checks on /v1/models/pets, retries on
another replica when a connection fails.
"""
from __future__ import annotations

import contextlib
import csv
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from tests.support import PETS_CONFIG, free_port, serving_process, wait_until

HAPROXY = Path("/usr/sbin/haproxy")
MODEL = "pets"


# Routes that expose less than TF Serving's whole REST API, as in front of KServe. Only
# `POST /v1/models/NAME:predict` reaches the replicas; everything else gets the answer such a route gives:
#   predict-only        an API gateway publishing only predict: FastAPI-style 404 {"detail": "Not Found"}
#   kserve-transformer  KServe's Python model server (v1 protocol) in front: `GET /v1/models/NAME` answers
#                       {"name": ..., "ready": true}, anything else (metadata, versions, labels) the 404
_NOT_PREDICT = """\
    acl predict method POST
    acl predict_path path_reg ^/v1/models/[^/]+:predict$
"""
_NOT_FOUND = """\
    http-request return status 404 content-type application/json string "{\\"detail\\":\\"Not Found\\"}" \
        if !predict || !predict_path
"""
_MODEL_READY = """\
    acl model_ready method GET
    acl model_ready_path path_reg ^/v1/models/pets$
    http-request return status 200 content-type application/json string "{\\"name\\":\\"pets\\",\\"ready\\":true}" \
        if model_ready model_ready_path
"""
ROUTES = {"full": "", "predict-only": _NOT_PREDICT + _NOT_FOUND,
          "kserve-transformer": _NOT_PREDICT + _MODEL_READY + _NOT_FOUND}


def haproxy_config(port: int, backends: Sequence[str], stats_socket: Path, *, route: str = "full") -> str:
    """mode http, roundrobin, health checks asking for an AVAILABLE pets version, retries/redispatch."""
    servers = "\n".join(f"    server replica{i} {backend.removeprefix('http://')} check"
                        for i, backend in enumerate(backends, start=1))
    return f"""\
global
    stats socket {stats_socket} mode 600 level admin
    maxconn 512
    # Buffer whole requests (a batch of photos as JSON is a few hundred KB) so that a request whose replica
    # died before answering can be sent again to another one (layer-7 retries need the request in the buffer).
    tune.bufsize 1048576

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    # Another replica on retry; predict has no side effects, so re-sending one is safe.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
    option http-buffer-request

frontend tf_serving
    bind 127.0.0.1:{port}
{ROUTES[route]}    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /v1/models/{MODEL}
    http-check expect string AVAILABLE
    default-server inter 300ms fall 2 rise 1
{servers}
"""


def server_stats(stats_socket: Path) -> dict[str, dict[str, str]]:
    """`show stat` over the admin socket: replica name -> its CSV row (status, stot, hrsp_2xx, ...)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(stats_socket))
        sock.sendall(b"show stat\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    lines = b"".join(chunks).decode().lstrip("# ").splitlines()
    return {row["svname"]: row for row in csv.DictReader(lines)
            if row["pxname"] == "replicas" and row["svname"].startswith("replica")}


@contextlib.contextmanager
def running_haproxy(backends: Sequence[str], *, route: str = "full") -> Iterator[tuple[str, Path]]:
    """HAProxy on a free loopback port in front of `backends`; yields (its URL, its stats socket)."""
    if not HAPROXY.exists():
        raise RuntimeError(f"{HAPROXY} is missing: apt-get install haproxy (make test provisions it)")
    workdir = Path(tempfile.mkdtemp(prefix="servescope-haproxy-"))
    stats_socket, port = workdir / "stats.sock", free_port()
    config = workdir / "haproxy.cfg"
    config.write_text(haproxy_config(port, backends, stats_socket, route=route))
    check = subprocess.run([str(HAPROXY), "-c", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"haproxy rejected {config}: {check.stdout}{check.stderr}")
    log = open(workdir / "haproxy.log", "wb")
    proc = subprocess.Popen([str(HAPROXY), "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        def all_up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"haproxy exited with {proc.returncode}: {(workdir / 'haproxy.log').read_text()}")
            if not stats_socket.exists():
                return False
            return all(row["status"] == "UP" for row in server_stats(stats_socket).values())

        wait_until(all_up, timeout=30, what="haproxy to see every replica UP")
        yield f"http://127.0.0.1:{port}", stats_socket
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def pets_replica(port: int | None = None, extra_args: Sequence[str] = (),
                 timeout: float = 240) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m serving` for the built pets model on `port` (default: a free one) with `extra_args`; yields
    (process, URL) once both versions are AVAILABLE. The process is exposed so that a test can kill it."""
    if not PETS_CONFIG.exists():
        raise RuntimeError(f"{PETS_CONFIG} is missing: run `make pets`")
    with serving_process([f"--model_config_file={PETS_CONFIG}", *extra_args], wait_for_models={MODEL: 2},
                         timeout=timeout, port=port) as replica:
        yield replica
