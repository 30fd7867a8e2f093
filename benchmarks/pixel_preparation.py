"""Client CPU per image to prepare a request: the encoded path (pets) and the pixel path (224×224, float and uint8).

    python -m benchmarks.pixel_preparation              # the 50 test photos, 5 rounds
    python -m benchmarks.pixel_preparation --rounds 20

No server: each photo (held in memory) goes through what the client does before sending, ClassifyPlan.instance
(checks, EXIF, decode, resize, scale) and then ClassifyPlan.request_body (the REST JSON body) for one instance,
timed with the process's CPU clock. Rows: the encoded path of pets (DT_STRING, the JPEG sent as it is), and
224×224 pixel inputs prepared by model profiles: the pets preset (tf.image-style bilinear, centre crop), the
keras-torch preset (Pillow bilinear, mean/std), and a DT_UINT8 input. Compare with the model's own CPU per
image on pets version 1 (docs/performance.md, about 3.1 to 4 ms). The process reuses malloc's heap for large
buffers first, as `python -m client` and the dashboard do (client.reuse_large_buffers); --fresh-buffers measures
glibc's defaults (each large array mapped afresh).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

from client.memory import reuse_large_buffers
from client.plan import ClassifyPlan
from client.profile import ModelProfile
from client.protocol import SignatureSpec, TensorSpec

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "images"
OUTPUTS = {"probabilities": TensorSpec("probabilities", "DT_FLOAT", (-1, 3)),
           "classes": TensorSpec("classes", "DT_STRING", (-1, 3))}


def plan_for(dtype: str, shape: tuple[int, ...], profile: dict | None) -> ClassifyPlan:
    image = TensorSpec("images", dtype, shape)
    signature = SignatureSpec("serving_default", "tensorflow/serving/predict", {"images": image}, OUTPUTS)
    return ClassifyPlan.from_signature(signature, profile=None if profile is None else ModelProfile.from_dict(profile))


CASES: tuple[tuple[str, Callable[[], ClassifyPlan]], ...] = (
    ("encoded (pets serving_default, DT_STRING)", lambda: plan_for("DT_STRING", (-1,), None)),
    ("224×224 DT_FLOAT, preset pets (centre crop, tf_bilinear)",
     lambda: plan_for("DT_FLOAT", (-1, 224, 224, 3), {"preset": "pets"})),
    ("224×224 DT_FLOAT, preset keras-torch (Pillow bilinear, mean/std)",
     lambda: plan_for("DT_FLOAT", (-1, 224, 224, 3), {"preset": "keras-torch"})),
    ("224×224 DT_UINT8, preset raw (Pillow bilinear)",
     lambda: plan_for("DT_UINT8", (-1, 224, 224, 3), {"preset": "raw"})),
)


def cpu_ms(work: Callable[[], object], count: int) -> float:
    started = time.process_time()
    work()
    return (time.process_time() - started) * 1000 / count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the photos per case (median reported)")
    parser.add_argument("--fresh-buffers", action="store_true", help="leave glibc's malloc thresholds as they are")
    args = parser.parse_args(argv)
    reused = False if args.fresh_buffers else reuse_large_buffers()
    if not PHOTOS.is_dir():
        raise SystemExit(f"test photos not found at {PHOTOS}")
    photos = [(str(p), p.read_bytes()) for p in sorted(PHOTOS.rglob("*"))
              if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    print(f"{len(photos)} photos, {args.rounds} rounds; client CPU per image (median of rounds), one process; "
          f"large buffers reused: {reused}")
    print("| case | prepare (instance) | + JSON body | total |")
    print("|---|---|---|---|")
    for name, make in CASES:
        plan = make()
        prepare, body = [], []
        for _ in range(args.rounds):
            instances: list = []
            prepare.append(cpu_ms(lambda: instances.extend(plan.instance(s, d) for s, d in photos), len(photos)))
            body.append(cpu_ms(lambda: [plan.request_body([one]) for one in instances], len(photos)))
        first, second = statistics.median(prepare), statistics.median(body)
        print(f"| {name} | {first:.2f} ms | {second:.2f} ms | {first + second:.2f} ms |")


if __name__ == "__main__":
    main()
