"""The Host check against DNS rebinding (dashboard/ui/allowed_hosts.py, installed by dashboard_app.py).

Against the real dashboard, started as `make run` starts it: raw HTTP requests and websocket handshakes with a
foreign Host are refused on the page, a static file, /_stcore/health and /_stcore/stream; loopback names and the
names in SERVESCOPE_ALLOWED_HOSTS are answered. These fail if a Streamlit upgrade stops running dashboard_app.py
as an ASGI app (the check would then be gone). Then the parsing rules and the middleware on their own."""
from __future__ import annotations

import asyncio
import base64
import http.client
import os
import re
import socket
import subprocess

import pytest

from dashboard.config import FieldError
from dashboard.ui.allowed_hosts import (REFUSAL, AllowedHostsMiddleware, allowed_hosts, host_name,
                                        parse_allowed_hosts)
from launcher.supervise import dashboard_command
from tests.dashboard.browser.test_browser import running_dashboard
from tests.support import ROOT, free_port

CONFIGURED = "dashboard.internal, servescope-dashboard.servescope.svc.cluster.local"
FOREIGN = ("evil.test", "evil.test:{port}", "localhost.evil.test:{port}", "127.0.0.1.nip.io:{port}",
           "localhost@evil.test", "", "127.0.0.1:{port}/x")
ANSWERED = ("localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "localhost", "LocalHost.:{port}",
            "dashboard.internal", "Dashboard.Internal:{port}", "servescope-dashboard.servescope.svc.cluster.local:80")


@pytest.fixture(scope="module")
def dashboard_port(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hosts")
    with running_dashboard(folder, SERVESCOPE_ALLOWED_HOSTS=CONFIGURED, SERVESCOPE_DB=str(folder / "runs.db"),
                           TF_SERVING_URL=f"http://127.0.0.1:{free_port()}") as url:
        yield int(url.rsplit(":", 1)[1])


def raw_request(port: int, request: bytes) -> bytes:
    """The whole answer to one raw HTTP/1.1 request (the connection is closed after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while not answer.startswith(b"HTTP/1.1 101") and (chunk := sock.recv(65536)):
            answer += chunk
        return answer


def get(port: int, path: str, host: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def websocket_handshake(port: int, host: str) -> tuple[int, bytes]:
    """The status and body of Streamlit's websocket endpoint's answer to an upgrade request with this Host."""
    key = base64.b64encode(os.urandom(16)).decode()
    answer = raw_request(port, (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                                f"Sec-WebSocket-Protocol: streamlit\r\n\r\n").encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def static_path(port: int) -> str:
    status, page = get(port, "/", f"127.0.0.1:{port}")
    assert status == 200
    return "/" + re.search(rb'src="\./(static/js/index\.[^"]+\.js)"', page).group(1).decode()


@pytest.mark.slow
def test_a_foreign_host_is_refused_on_every_path(dashboard_port):
    port = dashboard_port
    paths = ["/", static_path(port), "/_stcore/health", "/favicon.png", "/_stcore/host-config"]
    for host in (pattern.format(port=port) for pattern in FOREIGN):
        for path in paths:
            assert get(port, path, host) == (403, REFUSAL), (host, path)
        assert websocket_handshake(port, host) == (403, REFUSAL), host


@pytest.mark.slow
def test_a_request_without_one_host_header_is_refused(dashboard_port):
    no_host = raw_request(dashboard_port, b"GET /_stcore/health HTTP/1.0\r\n\r\n")
    assert no_host.startswith(b"HTTP/1.1 403 ") and no_host.endswith(REFUSAL)
    twice = raw_request(dashboard_port, b"GET /_stcore/health HTTP/1.1\r\nHost: localhost\r\nHost: evil.test\r\n"
                                        b"Connection: close\r\n\r\n")
    assert twice.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 403 ")), twice[:60]  # h11 or the check refuses it


@pytest.mark.slow
def test_loopback_names_and_the_configured_hosts_are_answered(dashboard_port):
    port = dashboard_port
    script = static_path(port)
    for host in (pattern.format(port=port) for pattern in ANSWERED):
        status, page = get(port, "/", host)
        assert status == 200 and b'<div id="root">' in page, host
        assert get(port, script, host)[0] == 200, host
        assert get(port, "/_stcore/health", host) == (200, b"ok"), host
        assert websocket_handshake(port, host)[0] == 101, host


@pytest.mark.slow
def test_a_bad_setting_stops_the_start_with_a_message_naming_it(tmp_path):
    env = dict(os.environ, SERVESCOPE_ALLOWED_HOSTS="dashboard.internal, https://dashboard.example.com/")
    result = subprocess.run(dashboard_command(free_port()), cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert ("cannot start the dashboard: SERVESCOPE_ALLOWED_HOSTS: 'https://dashboard.example.com/' is not a host "
            "name: write names such as dashboard.example.com, without scheme, port, path or wildcard (every port "
            "is allowed)") in result.stderr


# -- the rules on their own ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("header, name", [
    ("localhost", "localhost"), ("LOCALHOST:8502", "localhost"), ("localhost.:8502", "localhost"),
    ("127.0.0.1:80", "127.0.0.1"), ("[::1]:8502", "::1"), ("[0:0:0:0:0:0:0:1]", "::1"), ("[::1]", "::1"),
    ("dashboard.internal:", "dashboard.internal"), ("my_service:8502", "my_service"),
    ("", None), ("evil.test:x", None), ("evil.test:123456", None), ("localhost@evil.test", None),
    ("::1", None), ("[::1", None), ("[::1]8502", None), ("[evil.test]:80", None), ("a b", None),
    ("evil.test/x", None), ("*.example.com", None), ("-bad.example", None), ("a..b", None),
])
def test_the_host_name_is_read_from_the_header(header, name):
    assert host_name(header) == name


def test_the_setting_adds_host_names_to_the_loopback_ones():
    assert allowed_hosts({}) == {"localhost", "127.0.0.1", "::1"}
    assert allowed_hosts({"SERVESCOPE_ALLOWED_HOSTS": " Dashboard.Internal ,, [fd00::1], fd00::2, 10.0.0.5 ,"}) == {
        "localhost", "127.0.0.1", "::1", "dashboard.internal", "fd00::1", "fd00::2", "10.0.0.5"}
    assert parse_allowed_hosts("") == frozenset()


@pytest.mark.parametrize("entry", ["http://dashboard.internal", "dashboard.internal:8502", "*", "*.example.com",
                                   "dashboard.internal/app", "user@dashboard.internal", "[fd00::1]:80", "a b"])
def test_an_entry_that_is_not_a_host_name_is_refused_by_name(entry):
    with pytest.raises(FieldError) as caught:
        parse_allowed_hosts(f"ok.internal,{entry}")
    assert str(caught.value) == (f"SERVESCOPE_ALLOWED_HOSTS: {entry!r} is not a host name: write names such as "
                                 f"dashboard.example.com, without scheme, port, path or wildcard (every port is "
                                 f"allowed)")


def run_middleware(scope: dict) -> tuple[list[dict], list[dict]]:
    """What the middleware passed on to the app (scopes) and what it sent itself (messages)."""
    passed, sent = [], []

    async def app(scope, receive, send):
        passed.append(scope)

    async def send(message):
        sent.append(message)

    async def receive():
        return {}

    asyncio.run(AllowedHostsMiddleware(app, allowed={"localhost"})(scope, receive, send))
    return passed, sent


def test_the_middleware_answers_a_foreign_host_itself_and_passes_the_rest():
    allowed = {"type": "http", "headers": [(b"host", b"localhost:1")]}
    assert run_middleware(allowed) == ([allowed], [])
    lifespan = {"type": "lifespan"}
    assert run_middleware(lifespan) == ([lifespan], [])
    passed, sent = run_middleware({"type": "http", "headers": [(b"Host", b"evil.test")]})
    assert passed == [] and [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 403 and (b"content-type", b"text/plain; charset=utf-8") in sent[0]["headers"]
    assert sent[1]["body"] == REFUSAL
    # A websocket handshake: a 403 answer where the server offers it, else a close before accepting (also a 403).
    extension = {"websocket.http.response": {}}
    passed, sent = run_middleware({"type": "websocket", "headers": [(b"host", b"evil.test")], "extensions": extension})
    assert passed == [] and [(m["type"], m.get("status")) for m in sent] == [
        ("websocket.http.response.start", 403), ("websocket.http.response.body", None)]
    passed, sent = run_middleware({"type": "websocket", "headers": [(b"host", b"evil.test")]})
    assert passed == [] and sent == [{"type": "websocket.close", "code": 1008}]
