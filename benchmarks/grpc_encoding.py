"""What one pixel batch costs the client to write: REST's JSON body against gRPC's PredictRequest (tensor_content).

Prints, for a batch of 16 photos at pets' two pixel sizes (version 1: 128, version 2: 224) and for the encoded-bytes
path, the request's size and the median time to turn the batch's prepared instances into bytes on this machine
(interleaved repeats; image decoding and resizing, the same for both, excluded). The server's side (reading the
request) is not measured here: see server_speed and the issue-20 gRPC figures once the server speaks gRPC.

    python -m benchmarks.grpc_encoding [--batch 16] [--repeats 15]
"""
from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np
from PIL import Image

from client.plan import ClassifyPlan
from client.protocol import SignatureSpec, TensorSpec
from client.transport import tfs_pb2 as pb
from client.transport.tensors import tensor_from_values


def photo(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = (rng.random((480, 640, 3)) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def plan_for(size: int | None) -> ClassifyPlan:
    image = (TensorSpec("image_bytes", "DT_STRING", (-1,)) if size is None
             else TensorSpec("images", "DT_FLOAT", (-1, size, size, 3)))
    outputs = {"probabilities": TensorSpec("probabilities", "DT_FLOAT", (-1, 3)),
               "classes": TensorSpec("classes", "DT_STRING", (-1, 3))}
    signature = SignatureSpec("serving_default" if size is None else "predict_images", "tensorflow/serving/predict",
                              {image.name: image}, outputs)
    return ClassifyPlan.from_signature(signature)


def grpc_request(plan: ClassifyPlan, instances: list[dict]) -> bytes:
    values = [instance[plan.input_name] for instance in instances]
    tensor = tensor_from_values(values if plan.pixel_size is None else np.stack(values), plan.input_dtype
                                if plan.pixel_size is not None else "DT_STRING")
    request = pb.PredictRequest(model_spec=pb.ModelSpec(name="pets", signature_name=plan.signature_name))
    request.model_spec.version.value = 1
    request.inputs[plan.input_name].CopyFrom(tensor)
    return request.SerializeToString()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    photos = [photo(i) for i in range(args.batch)]
    print(f"batch of {args.batch} photos (640x480 JPEG), median of {args.repeats} interleaved repeats")
    print(f"{'path':<26} {'REST body':>12} {'REST ms':>9} {'gRPC body':>12} {'gRPC ms':>9} {'time ×':>7}")
    paths = (("pixels 128 (pets v1)", 128), ("pixels 224 (pets v2)", 224), ("encoded (serving_default)", None))
    for name, size in paths:
        plan = plan_for(size)
        instances = [plan.instance(f"p{i}.jpg", data) for i, data in enumerate(photos)]
        times: dict[str, list[float]] = {"rest": [], "grpc": []}
        sizes = {}
        for _ in range(args.repeats):
            for kind, encode in (("rest", plan.request_body), ("grpc", lambda x, p=plan: grpc_request(p, x))):
                started = time.perf_counter()
                body = encode(instances)
                times[kind].append((time.perf_counter() - started) * 1000)
                sizes[kind] = len(body)
        rest, grpc = statistics.median(times["rest"]), statistics.median(times["grpc"])
        print(f"{name:<26} {sizes['rest']:>12,} {rest:>9.1f} {sizes['grpc']:>12,} {grpc:>9.1f} {rest / grpc:>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
