"""HTTP servers side by side: the embedded server's WSGI app behind each candidate, under wrk with a real photo.

    python -m benchmarks.http_servers [--duration 60] [--connections 16] [--servers waitress,werkzeug] [--repeats 1]

For each server (in turn, --repeats rounds, interleaved), a child process loads the pets models into the same
`serving.app.ServingApp` and serves it with that server; wrk then sends one real photo per request
(`{"instances": [{"b64": ...}]}`, version 1, batching off) over --connections kept-alive connections for
--duration seconds. Prints requests/s, p50/p99, errors (non-2xx and socket errors) and the server's RSS before
and after. Servers:
- werkzeug: the previous HTTP layer (werkzeug's threaded development server with the hand-written keep-alive
  handler that serving/http.py held), kept here only as the baseline;
- waitress: what `python -m serving` runs now (serving/server.py's settings);
- cheroot: CherryPy's thread-pool server, one thread per connection (as many threads as connections);
- gunicorn: one gthread worker (the models must load once per process) with as many threads as connections.
cheroot and gunicorn are candidates that were measured, not dependencies: `pip install cheroot gunicorn` first.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys


from benchmarks.client_throughput import ROOT, benchmark_photos
from benchmarks.server_load import pets_ready, rss_mib, wrk_load

SERVERS = ("werkzeug", "waitress", "cheroot", "gunicorn")
THREADS = 16  # the thread-per-connection servers get one thread per wrk connection


def build_app():
    """The embedded server's WSGI app on the pets models, loaded and warmed up (no HTTP server)."""
    from serving.app import AppOptions, ServingApp
    from serving.config import read_config_file
    from serving.repository import ModelRepository
    from serving.warmup import load_and_warm_up

    repo = ModelRepository(loader=functools.partial(load_and_warm_up, warmup=True))
    repo.apply_config(list(read_config_file(ROOT / "pets" / "models.config").model_config_list.config))
    repo.reconcile()
    return ServingApp(repo, AppOptions())


def serve_werkzeug(port: int) -> None:
    """The previous HTTP layer: werkzeug's threaded server and serving/http.py's keep-alive handler (as it was,
    minus the body-read bookkeeping: every request here is read to its end)."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class KeepAliveHandler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 75
        disable_nagle_algorithm = True

        def run_wsgi(self) -> None:
            environ = self.make_environ()
            started: list = []

            def start_response(status, headers, exc_info=None):
                started[:] = [status, headers]
                return lambda data: None

            chunks = self.server.app(environ, start_response)
            body = b"".join(chunks)
            status, headers = started
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            for key, value in headers:
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close" if self.close_connection else "keep-alive")
            self._headers_buffer.append(b"\r\n")
            head = b"".join(self._headers_buffer)
            self._headers_buffer = []
            self.wfile.write(head + body)
            self.wfile.flush()
            if self.close_connection:
                with selectors.DefaultSelector() as selector:
                    selector.register(self.connection, selectors.EVENT_READ)
                    while selector.select(timeout=0.01) and self.rfile.read1(1 << 20):
                        pass

    make_server("127.0.0.1", port, build_app(), threaded=True, request_handler=KeepAliveHandler).serve_forever()


def serve_waitress(port: int) -> None:
    from serving.app import AppOptions
    from serving.http import HttpServer

    HttpServer(build_app(), host="127.0.0.1", port=port, max_request_bytes=AppOptions.max_request_bytes,
               threads=2 * AppOptions.num_threads).run()  # as serving/server.py configures it


def serve_cheroot(port: int) -> None:
    from cheroot.wsgi import Server

    Server(("127.0.0.1", port), build_app(), numthreads=THREADS, timeout=75).safe_start()


def serve_gunicorn(port: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Single(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"127.0.0.1:{port}", "workers": 1, "worker_class": "gthread",
                               "threads": THREADS, "keepalive": 75, "timeout": 120, "loglevel": "warning"}.items():
                self.cfg.set(key, value)

        def load(self):
            return build_app()  # in the worker, after the fork: TensorFlow loads once, in the process that serves

    Single().run()


def start(name: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.http_servers", "--serve", name, "--port", str(port)],
                            cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, pets_ready(proc, f"http://127.0.0.1:{port}", name)


def serving_pid(proc: subprocess.Popen) -> int:
    """The process that holds the models: gunicorn's worker (the master's only child), else the process itself."""
    children = f"/proc/{proc.pid}/task/{proc.pid}/children"
    try:
        found = open(children).read().split()
    except OSError:
        found = []
    return int(found[0]) if found else proc.pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        globals()[f"serve_{args.serve}"](args.port)
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    photo = benchmark_photos()[0]
    body = json.dumps({"instances": [{"b64": base64.b64encode(photo.read_bytes()).decode()}]}).encode()
    path = "/v1/models/pets/versions/1:predict"
    names = [n for n in args.servers.split(",") if n]
    if unknown := set(names) - set(SERVERS):
        parser.error(f"unknown server(s) {sorted(unknown)}; known: {', '.join(SERVERS)}")
    print(f"wrk: {args.connections} connections x {args.duration:.0f} s, one photo per request ({photo.name}, "
          f"{len(body) / 1e3:.0f} kB JSON), pets v1, batching off, {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.2f} before")
    for _ in range(args.repeats):
        for name in names:
            proc, url = start(name)
            try:
                wrk_load(url, path, body, args.connections, 3)  # warm the connections and the model
                pid = serving_pid(proc)
                before = rss_mib(pid)
                figures = wrk_load(url, path, body, args.connections, args.duration)
                after = rss_mib(pid)
                print(f"{name:>9}: {figures['rps']:6.1f} req/s, {figures['errors']} errors in "
                      f"{figures['requests']} requests, p50 {figures['p50']:.0f} ms, p99 {figures['p99']:.0f} ms, "
                      f"RSS {before:.0f} -> {after:.0f} MiB ({(after / before - 1) * 100:+.1f}%)", flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
