"""Speed at the limit: the embedded server against the same SavedModel in-process, for pets versions 1 and 2.

    python -m benchmarks.server_speed [--url http://127.0.0.1:8501] [--images 200] [--intra-op N]

For each version, on the same photo bytes (the 50 test photos cycled to --images):
- tutorial: float pixels as JSON, one image per request (`predict_images`, what TF Serving tutorials show);
- client:   `client.TFServingClient(...).classify(...)` with its default settings, against the server;
- in-process: the SavedModel's `serving_default` called directly in this process, 16 images per call, by 1 to
  4 threads at once (the best of these is the limit the client is held against);
plus single-image p50 (client with batch 1 vs one image per in-process call), the client/in-process ratio,
where a request's time goes (measured piece by piece, in this process, on one batch of 16), and the first
request after a load with and without model warmup. Prints figures; asserts nothing.

--intra-op N gives TensorFlow N intra-op threads on both sides alike (the server's
--tensorflow_intra_op_parallelism and this process's tf.config.threading), so client and in-process are always
compared under the same TensorFlow settings; 0 (the default) leaves TensorFlow's own choice (one per core).

The machine may be shared: client, raw REST and in-process are measured interleaved, --repeats times, and the
median of each is printed with every sample and the load average before and after.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import json
import os
import platform
import statistics
import time

import numpy as np
import requests

from benchmarks.client_throughput import ROOT, benchmark_photos, start_server
from client import TFServingClient
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
VERSIONS = (1, 2)
BATCH = DEFAULT_BATCH_SIZE
CALLERS = (1, 2, 3, 4)  # in-process threads calling the model at once


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    return f"{platform.node()}: {model}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1, 5, 15 min)"


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def tutorial(url: str, version: int, blobs: list[bytes], size: int) -> float:
    """Images/s for float JSON, one image per request (the pixels are prepared beforehand, not timed)."""
    from pets.reference_preprocessing import crop_resize_scale, decode_rgb

    bodies = [json.dumps({"signature_name": "predict_images",
                          "instances": [np.asarray(crop_resize_scale(decode_rgb(b), size)).tolist()]})
              for b in blobs]
    with requests.Session() as session:
        session.post(f"{url}/v1/models/pets/versions/{version}:predict", data=bodies[0], timeout=120)
        started = time.perf_counter()
        for body in bodies:
            session.post(f"{url}/v1/models/pets/versions/{version}:predict", data=body, timeout=120).raise_for_status()
    return len(bodies) / (time.perf_counter() - started)


SERVER_PID: list[int] = []  # the server's process id, when known: its CPU time is read from /proc


def server_cpu_seconds() -> float:
    if not SERVER_PID:
        return float("nan")
    with open(f"/proc/{SERVER_PID[0]}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@contextlib.contextmanager
def cpu_per_image(count: int, into: list[float]):
    """Append (this process's, the server's) CPU milliseconds per image over the block to `into`: what a
    busy shared machine cannot blur, unlike wall-clock rates."""
    own, server = time.process_time(), server_cpu_seconds()
    yield
    into += [(time.process_time() - own) / count * 1e3, (server_cpu_seconds() - server) / count * 1e3]


@contextlib.contextmanager
def pets_server(url: str | None, pid: int | None, intra_op: int):
    if url:
        SERVER_PID[:] = [pid] if pid else []
        yield url
        return
    proc, started_url = start_server(*([f"--tensorflow_intra_op_parallelism={intra_op}"] if intra_op else []))
    SERVER_PID[:] = [proc.pid]
    try:
        yield started_url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def through_client(url: str, version: int, images: list[tuple[str, bytes]]) -> tuple[float, float, list[float]]:
    """(images/s with default settings, single-image request p50 in ms, [client, server] CPU ms per image)."""
    cpu: list[float] = []
    with TFServingClient(url, "pets", timeout=120) as tfs:
        tfs.classify(images[:BATCH], version=version)  # warm: metadata, connections
        started = time.perf_counter()
        with cpu_per_image(len(images), cpu):
            results = tfs.classify(images, version=version)
        rate = len(images) / (time.perf_counter() - started)
        failed = [r for r in results if not r.ok]
        if failed:
            raise SystemExit(f"{len(failed)} images failed, e.g. {failed[0].error}")
        singles = []
        for name, data in images[:60]:
            started = time.perf_counter()
            tfs.classify([(name, data)], version=version, batch_size=1, concurrency=1)
            singles.append(time.perf_counter() - started)
    return rate, p50(singles), cpu


def raw_rest_rate(url: str, version: int, blobs: list[bytes]) -> tuple[float, list[float]]:
    """(images/s, [client, server] CPU ms per image) for prebuilt 16-image bodies over as many connections as the
    client's default concurrency (its batching, without its checks, base64 and JSON work): what the server
    itself sustains."""
    from concurrent.futures import ThreadPoolExecutor

    bodies = [json.dumps({"instances": [{"b64": base64.b64encode(b).decode()} for b in blobs[i:i + BATCH]]})
              for i in range(0, len(blobs), BATCH)]
    connections = DEFAULT_CONCURRENCY
    sessions = [requests.Session() for _ in range(connections)]

    def send(index: int) -> None:
        for body in bodies[index::connections]:
            sessions[index].post(f"{url}/v1/models/pets/versions/{version}:predict", data=body,
                                 timeout=120).raise_for_status()

    send(0)
    cpu: list[float] = []
    with ThreadPoolExecutor(connections) as pool, cpu_per_image(len(blobs), cpu):
        started = time.perf_counter()
        list(pool.map(send, range(connections)))
        rate = len(blobs) / (time.perf_counter() - started)
    return rate, cpu


def raw_rest_p50(url: str, version: int, blobs: list[bytes]) -> float:
    """Single-image request p50 with a prebuilt body over one kept-alive connection: the server's share."""
    bodies = [json.dumps({"instances": [{"b64": base64.b64encode(b).decode()}]}) for b in blobs[:60]]
    samples = []
    with requests.Session() as session:
        session.post(f"{url}/v1/models/pets/versions/{version}:predict", data=bodies[0], timeout=60)
        for body in bodies:
            started = time.perf_counter()
            session.post(f"{url}/v1/models/pets/versions/{version}:predict", data=body, timeout=60).raise_for_status()
            samples.append(time.perf_counter() - started)
    return p50(samples)


def in_process_runner(version: int, blobs: list[bytes]):
    """Load the SavedModel once; the returned call measures ({callers: images/s} for each count in CALLERS,
    single-image p50 ms, CPU ms per image with one caller) on batches of 16."""
    from concurrent.futures import ThreadPoolExecutor

    import tensorflow as tf

    serve = tf.saved_model.load(str(ROOT / "pets" / str(version))).signatures["serving_default"]
    serve(image_bytes=tf.constant(blobs[:BATCH]))
    serve(image_bytes=tf.constant(blobs[:1]))
    batches = [blobs[start:start + BATCH] for start in range(0, len(blobs), BATCH)]

    def measure() -> tuple[dict[int, float], float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            serve(image_bytes=tf.constant(batch))
        rates = {1: len(blobs) / (time.perf_counter() - started)}
        cpu_ms = (time.process_time() - cpu) / len(blobs) * 1e3
        for callers in CALLERS[1:]:  # the same batches, that many at once
            with ThreadPoolExecutor(callers) as pool:
                started = time.perf_counter()
                list(pool.map(lambda batch: serve(image_bytes=tf.constant(batch)), batches))
                rates[callers] = len(blobs) / (time.perf_counter() - started)
        singles = []
        for blob in blobs[:60]:
            started = time.perf_counter()
            serve(image_bytes=tf.constant([blob]))
            singles.append(time.perf_counter() - started)
        return rates, p50(singles), cpu_ms
    return measure


def breakdown(url: str, version: int, blobs: list[bytes]) -> str:
    """Milliseconds per piece of one 16-image request, each piece timed on its own in this process; the client's
    pieces are its own code (the image check, the request body, reading the answer)."""
    import tensorflow as tf

    from client.images import encode_for_wire
    from client.protocol import PredictResponse
    from serving.jsonvalues import parse_predict_object
    from serving.loader import load_version
    from serving.responses import encode_predict_response
    from serving.tensors import ROW, decode_b64

    batch = blobs[:BATCH]
    servable = load_version("pets", version, ROOT / "pets" / str(version))

    def timed(call, repeats=10) -> float:
        call()
        started = time.perf_counter()
        for _ in range(repeats):
            result = call()
        return (time.perf_counter() - started) / repeats * 1e3, result

    with TFServingClient(url, "pets") as tfs:
        _, plan = tfs.plan(version=version)
    check_ms, _ = timed(lambda: [encode_for_wire("photo", b) for b in batch])  # header read + cut check
    instances = [plan.instance("photo", b) for b in batch]
    encode_ms, body = timed(lambda: plan.request_body(instances))
    parse_ms, doc = timed(lambda: parse_predict_object(body))
    b64_ms, _ = timed(lambda: [decode_b64(item[plan.input_name]) for item in doc["instances"]])
    array = np.empty(len(batch), dtype=object)
    array[:] = batch
    run_ms, outputs = timed(lambda: servable.run("serving_default", {"image_bytes": array}))
    respond_ms, answer = timed(lambda: encode_predict_response(outputs, ROW))
    constant_ms, _ = timed(lambda: tf.constant(array))
    read_ms, _ = timed(lambda: [plan.read(row) for row in PredictResponse.from_json(json.loads(answer))
                                .per_instance(plan.output_names)])
    return (f"  v{version} one request of {BATCH} images ({len(body) / 1e6:.2f} MB JSON): client image check "
            f"{check_ms:.1f} ms, base64+JSON {encode_ms:.1f} ms | server JSON parse {parse_ms:.1f} ms, base64 "
            f"decode {b64_ms:.1f} ms, tensor copy {constant_ms:.2f} ms, model run {run_ms:.1f} ms, response JSON "
            f"{respond_ms:.1f} ms | client reads the answer {read_ms:.1f} ms")


def first_request_ms(warmup: bool, version: int, blob: bytes) -> float:
    from tests.support import embedded_server  # the same start-and-poll helper the tests use

    args = [f"--model_config_file={ROOT / 'pets' / 'models.config'}", f"--enable_model_warmup={str(warmup).lower()}"]
    with embedded_server(args, wait_for_models={"pets": 2}) as url:
        body = json.dumps({"instances": [{"b64": base64.b64encode(blob).decode()}] * BATCH})
        started = time.perf_counter()
        requests.post(f"{url}/v1/models/pets/versions/{version}:predict", data=body, timeout=120).raise_for_status()
        return (time.perf_counter() - started) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="use this running server instead of starting one")
    parser.add_argument("--server-pid", type=int, help="with --url: its process id, to read its CPU time")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--tutorial-images", type=int, default=30, help="the float-JSON way is slow: fewer images")
    parser.add_argument("--skip-first-request", action="store_true", help="skip the warmup before/after figures")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians are printed")
    parser.add_argument("--skip-tutorial", action="store_true")
    parser.add_argument("--skip-breakdown", action="store_true", help="also skips the first-request figures")
    parser.add_argument("--intra-op", type=int, default=0,
                        help="TensorFlow intra-op threads for the server and in-process alike (0: TensorFlow's choice)")
    args = parser.parse_args()
    if args.intra_op:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    from pets import VERSION_SIZES

    photos = benchmark_photos()
    images = [(str(photos[i % len(photos)]), photos[i % len(photos)].read_bytes()) for i in range(args.images)]
    blobs = [data for _, data in images]
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {machine()}")
    print(f"{args.images} photos (the {len(photos)} test photos cycled); client defaults: batch {BATCH}, "
          f"concurrency {DEFAULT_CONCURRENCY}; TensorFlow intra-op threads: "
          f"{args.intra_op or 'TensorFlow default (one per core)'}, server and in-process alike")
    print(f"load average before: {load_average()}")
    samples: dict[int, list[tuple[float, ...]]] = {version: [] for version in VERSIONS}
    tutorial_rates = {}
    with pets_server(args.url, args.server_pid, args.intra_op) as url:
        in_process = {version: in_process_runner(version, blobs) for version in VERSIONS}
        if not args.skip_tutorial:
            for version in VERSIONS:
                tutorial_rates[version] = tutorial(url, version, blobs[:args.tutorial_images],
                                                   VERSION_SIZES[version])
        for _ in range(args.repeats):  # interleaved, so a busy minute on the machine hits every column alike
            for version in VERSIONS:
                client_rate, client_p50, client_cpu = through_client(url, version, images)
                (raw_rate, raw_cpu), raw_p50 = raw_rest_rate(url, version, blobs), raw_rest_p50(url, version, blobs)
                rates, local_p50, local_cpu = in_process[version]()
                samples[version].append((client_rate, raw_rate, max(rates.values()), client_p50, raw_p50,
                                         local_p50, *client_cpu, *raw_cpu, local_cpu,
                                         *(rates[callers] for callers in CALLERS)))
        breakdowns = [] if args.skip_breakdown else [breakdown(url, version, blobs) for version in VERSIONS]
    print(f"load average after: {load_average()}")
    print(f"medians of {args.repeats} interleaved repeats (all samples in brackets)")
    print(f"img/s: tutorial (float JSON, 1 per request) | client defaults | raw REST (prebuilt 16-image bodies, "
          f"{DEFAULT_CONCURRENCY} connections) | in-process best of {'/'.join(map(str, CALLERS))} callers | ratios "
          "client and raw REST / in-process")
    print("1-image p50: client | raw REST (prebuilt body) | in-process")
    for version in VERSIONS:
        columns = list(zip(*samples[version]))
        (client_rate, raw_rate, best, client_p50, raw_p50, local_p50, client_own_cpu, client_server_cpu,
         raw_own_cpu, raw_server_cpu, local_cpu) = map(statistics.median, columns[:11])
        tutorial_text = f"{tutorial_rates[version]:.1f}" if version in tutorial_rates else "-"
        print(f"v{version}: img/s {tutorial_text} | {client_rate:.1f} | {raw_rate:.1f} | {best:.1f} | "
              f"{client_rate / best:.2f}x, {raw_rate / best:.2f}x;   1-image p50 {client_p50:.1f} | {raw_p50:.1f} | "
              f"{local_p50:.1f} ms", flush=True)
        ratios = [row[0] / row[2] for row in samples[version]]
        names = ("client", "raw", "in-process best", "client p50", "raw p50", "in-process p50")
        names_and_columns = [*zip(names, columns[:6]),
                             *((f"in-process {callers}", columns[11 + i]) for i, callers in enumerate(CALLERS))]
        print("    samples: " + "; ".join(
            f"{name} [{', '.join(f'{value:.1f}' for value in column)}]" for name, column in names_and_columns)
              + f"; client/best in-process per repeat [{', '.join(f'{r:.2f}' for r in ratios)}]")
        client_cpu, raw_cpu = client_own_cpu + client_server_cpu, raw_own_cpu + raw_server_cpu
        print(f"    CPU ms per image: client {client_own_cpu:.2f} + its server {client_server_cpu:.2f} = "
              f"{client_cpu:.2f} | raw REST {raw_own_cpu:.2f} + server {raw_server_cpu:.2f} = {raw_cpu:.2f} | "
              f"in-process {local_cpu:.2f};  in-process/client {local_cpu / client_cpu:.2f}x, "
              f"in-process/raw REST {local_cpu / raw_cpu:.2f}x (the rate ratio a CPU-bound idle machine would "
              "show)", flush=True)
    if args.skip_breakdown:
        return
    print("where one request's time goes:")
    for line in breakdowns:
        print(line, flush=True)
    if not args.skip_first_request:
        for version in VERSIONS:
            cold, warm = first_request_ms(False, version, blobs[0]), first_request_ms(True, version, blobs[0])
            print(f"  v{version} first request (16 images) after load: {cold:.0f} ms without warmup, "
                  f"{warm:.0f} ms with warmup")


if __name__ == "__main__":
    main()
