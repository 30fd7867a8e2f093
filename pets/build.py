"""`python -m pets.build [--output DIR]`: export pets versions 1 (128 px) and 2 (224 px) plus models.config.

Writes DIR/1/, DIR/2/ (SavedModels, each with assets.extra/tf_serving_warmup_requests) and DIR/models.config whose base_path is the absolute path of DIR
at build time (move the directory -> rebuild). Needs only the pip-installed weights and pets/heads/.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pets import HEADS_DIR, PETS_DIR, VERSION_SIZES  # noqa: E402


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def build(output: Path, heads_dir: Path = HEADS_DIR, weights_path: Path | None = None) -> dict[int, Path]:
    import keras

    from pets.efficientnet_lite import build_backbone, default_weights_path, load_torch_weights
    from pets.export import export_saved_model
    from pets.head import head_path, load_head
    from pets.serving_config import write_config
    from pets.torch_legacy import load_state_dict
    from pets.warmup import write_warmup_requests

    keras.utils.set_random_seed(0)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    heads = {version: load_head(head_path(version, heads_dir)) for version in VERSION_SIZES}
    for version, head in heads.items():
        if head.size != VERSION_SIZES[version]:
            raise ValueError(f"{head_path(version, heads_dir)}: trained at {head.size} px, "
                             f"version {version} runs at {VERSION_SIZES[version]} px")
    state = load_state_dict(weights_path or default_weights_path())
    exported = {}
    for version, size in VERSION_SIZES.items():
        backbone = build_backbone(size)
        load_torch_weights(backbone, state)
        target = output / str(version)
        staging = output / f".{version}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        export_saved_model(backbone, heads[version], size, staging)
        write_warmup_requests(staging, size)  # replayed by the server before the version turns AVAILABLE
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # a half-written version never sits where TF Serving looks
        exported[version] = target
    write_config(output / "models.config", output, VERSION_SIZES)
    return exported


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=PETS_DIR, help="directory for <version>/ and models.config")
    parser.add_argument("--heads", type=Path, default=HEADS_DIR, help="directory with pets_v<version>.npz heads")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    exported = build(args.output, args.heads)
    for version, path in exported.items():
        print(f"version {version} ({VERSION_SIZES[version]} px): {path} {directory_size(path) / 1e6:.1f} MB")
    print(f"config: {args.output.resolve() / 'models.config'}")
    print(f"built in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
