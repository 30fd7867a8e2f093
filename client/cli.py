"""`python -m client status|metadata|classify` — the client from a shell.

Exit codes: 0 done, some images classified (per-file errors are rows, not failures), or everything
was already in --out; 1 nothing could be classified; 2 usage error (bad option, an --out that is
not a results file or cannot be written); 3 server unreachable (including every image failing
because the server did), or the model/version/label/signature is unusable; 130 interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from client._noprogress import NoProgress
from client.core import TFServingClient
from client.errors import TFServingError
from client.outputs import RETRYABLE_ERRORS, ResultWriter, completed_sources, format_of
from client.protocol import ModelMetadata, TensorSpec
from client.sources import expand_sources

EXIT_OK, EXIT_NOTHING_CLASSIFIED, EXIT_USAGE, EXIT_SERVER, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_URL = "http://127.0.0.1:8501"


def _target_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=os.environ.get("TF_SERVING_URL", DEFAULT_URL),
                        help="REST base URL (default: $TF_SERVING_URL or %(default)s)")
    common.add_argument("--model", default="pets", help="model name (default: %(default)s)")
    target = common.add_mutually_exclusive_group()
    target.add_argument("--version", type=int, help="a specific version number")
    target.add_argument("--label", help="a version label, e.g. stable or canary")
    common.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: %(default)s)")
    common.add_argument("--retries", type=int, default=3, help="retries on connect errors/429/503")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _target_options()
    parser = argparse.ArgumentParser(prog="python -m client", description="TF Serving REST client")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", parents=[common], help="version states of the model")
    commands.add_parser("metadata", parents=[common], help="signatures of a version")
    classify = commands.add_parser("classify", parents=[common], help="classify images, folders, ZIP archives")
    classify.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (walked), .zip archives")
    classify.add_argument("--signature", dest="signature_name", help="signature (default: serving_default)")
    classify.add_argument("--batch-size", type=int, default=16, help="images per request (default: %(default)s)")
    classify.add_argument("--concurrency", type=int, default=2, help="requests in flight (default: %(default)s)")
    classify.add_argument("--labels", help="comma-separated class names, for models without a class output")
    classify.add_argument("--out", type=Path, help="FILE.csv, .jsonl or .parquet; an existing file is resumed")
    classify.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def _shape(spec: TensorSpec) -> str:
    return "unknown rank" if spec.shape is None else "[" + ", ".join(map(str, spec.shape)) + "]"


def _print_metadata(metadata: ModelMetadata) -> None:
    print(f"model {metadata.name} version {metadata.version}")
    for signature in metadata.signatures.values():
        print(f"{signature.name} ({signature.method_name})")
        for kind, tensors in (("in ", signature.inputs), ("out", signature.outputs)):
            for spec in tensors.values():
                print(f"  {kind} {spec.name:<24} {spec.dtype:<10} {_shape(spec)}")


def _progress_bar(total: int, *, disabled: bool):
    """tqdm on stderr (images/s, errors so far); tqdm is an optional extra, imported only here."""
    try:
        from tqdm import tqdm
    except ImportError:
        if not disabled:
            print("(install tqdm for a progress bar)", file=sys.stderr)
        return NoProgress()
    return tqdm(total=total, unit="img", file=sys.stderr, disable=disabled, dynamic_ncols=True)


def _classify(tfs: TFServingClient, args: argparse.Namespace, done_before: set[str]) -> int:
    sources = [(name, load) for name, load in expand_sources(args.paths) if name not in done_before]
    if done_before:
        print(f"resuming {args.out}: {len(done_before)} sources already done", file=sys.stderr)
    if not sources:
        print("nothing to classify" + (" (all already done)" if done_before else ": no images found"),
              file=sys.stderr)
        return EXIT_OK if done_before else EXIT_NOTHING_CLASSIFIED
    labels = [name.strip() for name in args.labels.split(",")] if args.labels else None
    classified = errors = server_errors = 0
    with ResultWriter(args.out) as writer, _progress_bar(len(sources), disabled=args.no_progress) as bar:
        for result in tfs.iter_classify(sources, version=args.version, label=args.label,
                                        signature_name=args.signature_name, batch_size=args.batch_size,
                                        concurrency=args.concurrency, labels=labels):
            writer.write(result)
            classified += result.ok
            errors += not result.ok
            server_errors += result.error_type in RETRYABLE_ERRORS
            bar.set_postfix(errors=errors, refresh=False)
            bar.update(1)
    print(f"classified {classified}, errors {errors}" + (f", written to {args.out}" if args.out else ""),
          file=sys.stderr)
    if classified:
        return EXIT_OK
    if server_errors == errors:  # every image failed because the server did: rerunning resumes them
        print("error: the server failed every request", file=sys.stderr)
        return EXIT_SERVER
    return EXIT_NOTHING_CLASSIFIED


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "classify":
        if args.batch_size < 1 or args.concurrency < 1:
            print("error: --batch-size and --concurrency must be >= 1", file=sys.stderr)
            return EXIT_USAGE
    done_before: set[str] = set()
    if args.command == "classify" and args.out is not None:
        try:
            format_of(args.out)
            if not args.out.parent.is_dir():
                raise ValueError(f"{args.out}: folder {args.out.parent} does not exist")
            done_before = completed_sources(args.out)
        except (OSError, ValueError) as exc:
            print(f"error: --out {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        with TFServingClient(args.url, args.model, timeout=args.timeout, retries=args.retries) as tfs:
            if args.command == "status":
                statuses = tfs.status(version=args.version, label=args.label)
                print(f"{'version':>7}  {'state':<12} {'error_code':<10} error_message")
                for s in statuses:
                    print(f"{s.version:>7}  {s.state:<12} {s.error_code:<10} {s.error_message}")
                return EXIT_OK
            if args.command == "metadata":
                _print_metadata(tfs.metadata(version=args.version, label=args.label))
                return EXIT_OK
            return _classify(tfs, args, done_before)
    except KeyboardInterrupt:
        print("\ninterrupted" + (f"; rerun with --out {args.out} to resume" if getattr(args, "out", None) else ""),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # writing --out failed (disk full, permissions)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TFServingError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_SERVER
    except (KeyError, ValueError) as exc:  # e.g. unknown signature, signature unfit for images
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return EXIT_SERVER
