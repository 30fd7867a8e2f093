"""Regenerate client/transport/tfs_pb2.py and tfs_pb2.pyi from tfs.proto (`make protos`).

The pinned grpcio-tools is installed with pip into a temporary folder, so the project's environment keeps its own
protobuf; its protoc writes code for protobuf 5.26.1, the oldest runtime the `grpc` extra declares (newer runtimes
read it too). tests/client/test_grpc_protos.py runs the same generation and compares the files.

    python scripts/protos.py [--out DIR] [--tools DIR]   (--tools: a folder that already holds TOOLS)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = "client/transport/tfs.proto"
GENERATED = ("client/transport/tfs_pb2.py", "client/transport/tfs_pb2.pyi")
# The generator, and the oldest runtimes the `grpc` extra declares (the same folder runs the oldest-version test).
TOOLS = ("grpcio-tools==1.64.3", "grpcio==1.64.3", "protobuf==5.26.1")


def install_tools(target: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-warn-conflicts",
                    "--target", str(target), *TOOLS], check=True)


def generate(out: Path, tools: Path) -> None:
    """Write GENERATED under `out` (the repository's layout) with the protoc found in `tools`."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(tools))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I.", f"--python_out={out}", f"--pyi_out={out}",
                    PROTO], cwd=ROOT, env=env, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="where to write (default: the repository)")
    parser.add_argument("--tools", type=Path, default=None, help="a folder already holding the pinned tools")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="servescope-protos-") as scratch:
        tools = args.tools or Path(scratch)
        if args.tools is None:
            install_tools(tools)
        generate(args.out.resolve(), tools)
    for name in GENERATED:
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
