"""Latency (batch 1) and throughput (batch 32) of both pets SavedModels, in-process, on the test photos.

    python -m benchmarks.model_versions [--model-dir pets] [--repeats 20]
Runs the `serving_default` signature (encoded bytes in, so JPEG decoding and preprocessing are included)
and `predict_images` (pre-resized float pixels, network only). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pets import PETS_DIR, VERSION_SIZES  # noqa: E402

DEFAULT_IMAGES = ROOT.parent / "shared" / "images"
BATCH = 32


def _photos(images_dir: Path) -> list[bytes]:
    paths = sorted(p for p in images_dir.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not paths:
        raise SystemExit(f"no photos under {images_dir}")
    return [p.read_bytes() for p in paths]


def _timings(call, repeats: int) -> list[float]:
    call()  # warm-up: first call traces and allocates
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=PETS_DIR)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from pets.reference_preprocessing import crop_resize_scale, decode_rgb

    blobs = _photos(args.images)
    batch_blobs = (blobs * (BATCH // len(blobs) + 1))[:BATCH]
    print(f"{len(blobs)} photos from {args.images}; TF {tf.__version__}, "
          f"{os.cpu_count()} CPUs visible, intra-op threads {tf.config.threading.get_intra_op_parallelism_threads()}")
    print(f"{'version':>7} {'size':>4} {'signature':>15} {'b1 median ms':>12} {'b1 p90 ms':>9} {'b32 img/s':>9}")
    for version, size in VERSION_SIZES.items():
        started = time.perf_counter()
        model = tf.saved_model.load(str(args.model_dir / str(version)))
        load_seconds = time.perf_counter() - started
        serve, pixels = model.signatures["serving_default"], model.signatures["predict_images"]
        batch_pixels = tf.constant(np.stack([crop_resize_scale(decode_rgb(b), size) for b in batch_blobs]))
        cases = {
            "serving_default": (lambda i: serve(image_bytes=tf.constant([blobs[i % len(blobs)]])),
                                lambda: serve(image_bytes=tf.constant(batch_blobs))),
            "predict_images": (lambda i: pixels(images=batch_pixels[i % BATCH:i % BATCH + 1]),
                               lambda: pixels(images=batch_pixels)),
        }
        for name, (single, batched) in cases.items():
            counter = iter(range(10**9))
            single_samples = _timings(lambda: single(next(counter)), args.repeats * 3)
            batch_samples = _timings(batched, max(3, args.repeats // 4))
            print(f"{version:>7} {size:>4} {name:>15} {statistics.median(single_samples) * 1e3:>12.1f} "
                  f"{_percentile(single_samples, 0.9) * 1e3:>9.1f} {BATCH / statistics.median(batch_samples):>9.1f}")
        print(f"        (version {version} loaded in {load_seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
