"""Limits, timeouts, metrics and concurrency: the server answers clearly and never falls over."""
from __future__ import annotations

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
import requests

from tests.support import embedded_server

LIMIT = 4096


@pytest.fixture(scope="module")
def limited_url(test_models):
    """toolbox behind a 4 KiB body limit and a 300 ms model timeout."""
    args = ["--model_name=toolbox", f"--model_base_path={test_models / 'toolbox'}",
            f"--max_request_bytes={LIMIT}", "--rest_api_timeout_in_ms=300"]
    with embedded_server(args, wait_for_models={"toolbox": 1}) as url:
        yield url


def raw_exchange(url: str, head: str, body: bytes = b"") -> tuple[int, dict]:
    """Send raw HTTP bytes and parse the answer (so we control exactly how much of the body is sent)."""
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _content_length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    header, payload = data.split(b"\r\n\r\n", 1)
    return int(header.split()[1]), json.loads(payload)


def _content_length(data: bytes) -> int:
    match = re.search(rb"(?i)content-length:\s*(\d+)", data)
    return int(match.group(1)) if match else 0


@pytest.mark.slow
def test_declared_oversized_body_gets_413_before_it_is_sent(limited_url):
    # Only the headers go out: the server must answer from Content-Length alone.
    status, body = raw_exchange(limited_url, "POST /v1/models/toolbox:predict HTTP/1.1\r\nHost: x\r\n"
                                             "Content-Type: application/json\r\nContent-Length: 50000000\r\n")
    assert (status, body) == (413, {"error": f"Request body of 50000000 bytes exceeds the limit of {LIMIT} bytes "
                                             "(--max_request_bytes)"})


@pytest.mark.slow
def test_chunked_oversized_body_gets_413(limited_url):
    def chunks():
        for _ in range(10):
            yield b" " * 1000  # whitespace: valid JSON padding, 10 kB in all
    reply = requests.post(f"{limited_url}/v1/models/toolbox:predict", data=chunks(), timeout=10)
    assert (reply.status_code, reply.json()) == (
        413, {"error": f"Request body exceeds the limit of {LIMIT} bytes (--max_request_bytes)"})
    # ... and a chunked body under the limit is served.
    reply = requests.post(f"{limited_url}/v1/models/toolbox:predict",
                          data=iter([b'{"instances": ', b'["abc"]}']), timeout=10)
    assert (reply.status_code, reply.json()) == (200, {"predictions": [{"echo_bytes": {"b64": "YWJj"}, "length": 3}]})


@pytest.mark.slow
def test_a_model_run_over_the_timeout_gets_504_and_the_server_goes_on(limited_url):
    started = time.monotonic()
    reply = requests.post(f"{limited_url}/v1/models/toolbox:predict",
                          json={"signature_name": "spin", "instances": [500_000]}, timeout=30)
    assert (reply.status_code, reply.json()) == (
        504, {"error": "Deadline exceeded: the model did not answer within 0.3 s"})
    assert time.monotonic() - started < 1.5
    reply = requests.post(f"{limited_url}/v1/models/toolbox:predict",
                          json={"signature_name": "spin", "instances": [10]}, timeout=30)
    assert (reply.status_code, reply.json()) == (200, {"predictions": [10]})


@pytest.mark.slow
def test_stalled_clients_hold_no_worker_and_others_are_answered(limited_url):
    """Slowloris: 64 connections (far more than the server's worker threads) each stop mid-request, in the
    head or in the body; a normal request on a new connection is still answered at once, and so is each
    stalled request once its client sends the rest."""
    parsed = urlparse(limited_url)
    body = json.dumps({"instances": ["abc"]}).encode()
    head = (f"POST /v1/models/toolbox:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    stalled = []
    try:
        for index in range(64):
            sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
            cut = len(head) // 2 if index % 2 else len(head) + 5  # in the head, or in the body
            sock.sendall((head + body)[:cut])
            stalled.append((sock, cut))
        started = time.monotonic()
        reply = requests.post(f"{limited_url}/v1/models/toolbox:predict", data=body, timeout=10)
        assert (reply.status_code, reply.json()) == (200, {"predictions": [{"echo_bytes": {"b64": "YWJj"},
                                                                             "length": 3}]})
        assert time.monotonic() - started < 2
        for sock, cut in stalled:
            sock.sendall((head + body)[cut:])
        for sock, _ in stalled:
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock, _ in stalled:
            sock.close()


def metric(url: str, name: str, **labels: str) -> float:
    text = requests.get(f"{url}/monitoring/prometheus/metrics", timeout=10).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            series, value = line.rsplit(" ", 1)
            got = ",".join(sorted(series[len(name) + 1:-1].split(",")))
            if got == wanted:
                return float(value)
    return 0.0


def test_prometheus_metrics_count_requests_errors_and_latency_per_model_version(server_url):
    ok = dict(api="predict", code="OK", model="half_plus_two", version="1")
    bad = dict(api="predict", code="INVALID_ARGUMENT", model="half_plus_two", version="1")
    before = (metric(server_url, "serving_requests_total", **ok), metric(server_url, "serving_requests_total", **bad),
              metric(server_url, "serving_request_errors_total", **bad),
              metric(server_url, "serving_request_latency_seconds_count", api="predict", model="half_plus_two",
                     version="1"))
    for _ in range(3):
        requests.post(f"{server_url}/v1/models/half_plus_two/versions/1:predict", json={"instances": [1.0]}, timeout=10)
    requests.post(f"{server_url}/v1/models/half_plus_two/versions/1:predict", json={"instances": ["x"]}, timeout=10)
    after = (metric(server_url, "serving_requests_total", **ok), metric(server_url, "serving_requests_total", **bad),
             metric(server_url, "serving_request_errors_total", **bad),
             metric(server_url, "serving_request_latency_seconds_count", api="predict", model="half_plus_two",
                    version="1"))
    assert [a - b for a, b in zip(after, before)] == [3, 1, 1, 4]
    assert metric(server_url, "serving_model_versions", model="half_plus_two", state="AVAILABLE") == 2
    assert metric(server_url, "serving_model_versions", model="broken", state="END") == 1


def test_urls_naming_unknown_models_or_versions_add_no_metric_series(server_url):
    unknown = dict(api="predict", code="NOT_FOUND", model="<unknown>", version="")
    no_such_version = dict(api="predict", code="NOT_FOUND", model="half_plus_two", version="")
    before = (metric(server_url, "serving_requests_total", **unknown),
              metric(server_url, "serving_requests_total", **no_such_version))
    for i in range(3):
        requests.post(f"{server_url}/v1/models/ghost-{i}:predict", json={"instances": [1.0]}, timeout=10)
        requests.post(f"{server_url}/v1/models/half_plus_two/versions/{900 + i}:predict", json={"instances": [1.0]},
                      timeout=10)
    after = (metric(server_url, "serving_requests_total", **unknown),
             metric(server_url, "serving_requests_total", **no_such_version))
    assert [a - b for a, b in zip(after, before)] == [3, 3]
    text = requests.get(f"{server_url}/monitoring/prometheus/metrics", timeout=10).text
    assert "ghost-" not in text and 'version="90' not in text


@pytest.mark.slow
def test_eight_clients_times_200_requests_without_a_single_error(server_url):
    def client(index: int) -> list[tuple[int, object]]:
        results = []
        with requests.Session() as session:
            for i in range(200):
                x = float(index * 1000 + i)
                reply = session.post(f"{server_url}/v1/models/half_plus_two/versions/1:predict",
                                     json={"instances": [x]}, timeout=30)
                results.append((reply.status_code, reply.json() == {"predictions": [0.5 * x + 2]}))
        return results

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        outcomes = [r for results in pool.map(client, range(8)) for r in results]
    took = time.perf_counter() - started
    assert len(outcomes) == 1600
    assert [o for o in outcomes if o != (200, True)] == []
    print(f"1600 predict requests from 8 clients in {took:.2f} s ({1600 / took:.0f} req/s)")
