"""`python -m client status|metadata|classify` — the client from a shell.

classify writes one row per input (client.schema's columns: source, top_class, confidence,
prob_<class>..., ground_truth, correct, correction, corrected_at, model, target, version,
profile, latency_ms, error, error_type) as CSV on stdout or to --out FILE.csv/.jsonl/.parquet. An existing
--out file is resumed: sources already done are skipped, failed ones retried, and the file ends
with exactly one row per source (rewritten through a temporary file and a rename). CSV cells that a
spreadsheet would run as a formula (= + - @ tab CR at the start, e.g. a file named
`@SUM(1+1)dog.jpg`) are written with a leading apostrophe.

Exit codes: 0 done, some images classified (per-file errors are rows, not failures), or everything
was already in --out; 1 nothing could be classified; 2 usage error (bad option, an --out that is
not a results file or cannot be written, an unreadable --truth file, a --profile that is unusable or does
not fit the model, --labels or --signature-config contradicting it); 3 server unreachable
(including every image failing because the server did), or the model/version/label/signature is
unusable or went away during the run (every input still has its row; rerun to resume); 4 (--dataset) the run
store cannot be opened or the run cannot be stored; 130 interrupted. `dataset …` and `classify --dataset`:
client.dataset_cli and client.dataset_run.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from client._noprogress import NoProgress
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from client.cli_files import signature_config_of, truth_file_of
from client.cli_rows import RowMaker, accuracy_text, preparation_lines, skipped_text
from client.core import TFServingClient
from client.errors import InvalidArgumentError, TFServingError
from client.dataset_cli import EXIT_STORE, add_dataset_commands, run_dataset_command
from client.outputs import RETRYABLE_ERRORS, ResultWriter, compact, completed_sources, format_of
from client.profile import ModelProfile
from client.protocol import ModelMetadata, TensorSpec
from client.resume import latest_rows, read_rows
from client.results import ClassificationResult
from client.schema import target_text
from client.sources import Skipped, expand_sources
from client.truth import TruthFileError

if TYPE_CHECKING:  # the run store (SQLAlchemy) is imported only for --dataset
    from client.dataset_run import DatasetRun

EXIT_OK, EXIT_NOTHING_CLASSIFIED, EXIT_USAGE, EXIT_SERVER, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_URL = "http://127.0.0.1:8501"
TRUTH_METHODS = ("auto", "folders", "names", "none")
# The model or version went away during the run: the rest of the inputs are rows naming that.
TARGET_GONE = frozenset({"VersionNotAvailableError", "ModelNotFoundError"})


def _target_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=os.environ.get("TF_SERVING_URL", DEFAULT_URL),
                        help="REST base URL, or grpc://host:8500 for TF Serving's gRPC API (the grpc extra) "
                             "(default: $TF_SERVING_URL or %(default)s)")
    common.add_argument("--model", default="pets", help="model name (default: %(default)s)")
    target = common.add_mutually_exclusive_group()
    target.add_argument("--version", type=int, help="a specific version number")
    target.add_argument("--label", help="a version label, e.g. stable or canary")
    common.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: %(default)s)")
    common.add_argument("--retries", type=int, default=3, help="retries on connect errors/429/503")
    common.add_argument("--signature-config", type=Path, metavar="FILE.json",
                        help="the signature and class names, for servers without the metadata API (e.g. a KServe "
                             "route exposing only predict): {\"class_names\": [...], \"input_name\": ...}; "
                             "the server's own metadata wins when it answers")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _target_options()
    parser = argparse.ArgumentParser(prog="python -m client", description="TF Serving client (REST or gRPC)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", parents=[common], help="version states of the model")
    commands.add_parser("metadata", parents=[common], help="signatures of a version")
    classify = commands.add_parser(
        "classify", parents=[common], help="classify images, folders, ZIP archives",
        epilog="Rows: source, top_class, confidence, prob_<class>..., ground_truth, correct, correction, "
               "corrected_at, model, target, version, profile (the model profile's digest), latency_ms, error, "
               "error_type. CSV cells starting with = + - @ tab or CR get a leading ' so spreadsheets show them "
               "as text.")
    classify.add_argument("paths", nargs="*", metavar="PATH",
                          help="image files, folders (walked), .zip archives (ZIPs inside them opened one level)")
    classify.add_argument("--dataset", metavar="NAME[@VERSION]",
                          help="classify a stored dataset (its newest version, or VERSION) instead of PATHs, with its "
                               "truth; the run is recorded in the run store (SERVESCOPE_DB) for the dashboard")
    classify.add_argument("--signature", dest="signature_name", help="signature (default: serving_default)")
    classify.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                          help="images per request (default: %(default)s)")
    classify.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                          help="requests in flight (default: %(default)s)")
    classify.add_argument("--labels", help="comma-separated class names, for models without a class output "
                                           "(a shorthand of a profile's class_names)")
    classify.add_argument("--profile", type=Path, metavar="FILE.json",
                          help="model profile: how to prepare pixels (preset, input size, resize, channels, scale, "
                               "mean/std, layout) and read outputs (probabilities, logits, sigmoid); see "
                               "docs/client.md#model-profiles. Without one, pixel inputs get the pets preparation "
                               "and the run says so")
    classify.add_argument("--out", type=Path, help="FILE.csv, .jsonl or .parquet; an existing file is resumed "
                                                   "and ends with one row per source")
    classify.add_argument("--truth", default="none", metavar="folders|names|auto|FILE",
                          help="ground truth for the ground_truth and correct columns and the accuracy: the "
                               "nearest folder name (cat/1.jpg), the file name's leading word (cat.1.jpg), "
                               "auto (folders, else names), or a CSV/JSON file of source,label "
                               "(default: %(default)s)")
    classify.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_dataset_commands(commands)
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


def _remaining(sources: list[tuple[str, Any]], seen: set[str], exc: TFServingError) -> list[ClassificationResult]:
    """Rows for inputs the client never returned because the run stopped (the target went away)."""
    return [ClassificationResult.failed(name, exc, message=f"{name}: not classified: {exc}")
            for name, _ in sources if name not in seen]


def _classify(tfs: TFServingClient, args: argparse.Namespace, done_before: set[str], truth_file: Any,
              dataset: "DatasetRun | None" = None) -> int:
    skipped: list[Skipped] = []
    found = dataset.sources if dataset is not None else list(expand_sources(args.paths, skipped=skipped))
    truth_file = dataset.truth if dataset is not None else truth_file
    sources = [(name, load) for name, load in found if name not in done_before]
    if done_before:
        print(f"resuming {args.out}: {len(done_before)} sources already done", file=sys.stderr)
    if skipped:
        print(skipped_text(skipped), file=sys.stderr)
    if not sources:
        accuracy = None
        if args.out is not None:
            compact(args.out)  # a run killed before it compacted left duplicate rows
            accuracy = accuracy_text(_file_rows(args.out, [name for name, _ in found])) if args.truth != "none" \
                else None
        print("nothing to classify" + (" (all already done)" if done_before else ": no images found")
              + (f"; in {args.out}: {accuracy}" if accuracy else ""), file=sys.stderr)
        return EXIT_OK if done_before else EXIT_NOTHING_CLASSIFIED
    _, plan = tfs.plan(version=args.version, label=args.label, signature_name=args.signature_name)
    for line in preparation_lines(plan):
        print(line, file=sys.stderr)
    if dataset is not None:   # the run store keeps the profile the run uses (only a dataset run imports the store)
        from client.store.records import RunProfile
        dataset.use_profile(RunProfile.from_plan(plan, f"--profile {args.profile}" if args.profile else None))
    maker = RowMaker([name for name, _ in found], model=args.model,
                     target=target_text(version=args.version, label=args.label),
                     class_names=tfs.profile.class_names, profile=tfs.profile.digest,
                     truth_method=args.truth if truth_file is None else "file", truth_file=truth_file)
    written: list[dict[str, Any]] = []  # the columns the summary needs, per row written
    seen: set[str] = set()
    stopped: TFServingError | None = None
    failures = 0
    with ResultWriter(args.out) as writer, _progress_bar(len(sources), disabled=args.no_progress) as bar:
        def record(rows: list[dict[str, Any]]) -> None:
            for row in rows:
                writer.write(row)
                written.append({k: row[k] for k in ("source", "top_class", "ground_truth", "error_type")})
            if dataset is not None:
                dataset.record(rows)

        def emit(results: list[ClassificationResult]) -> None:
            nonlocal failures
            for result in results:
                seen.add(result.source)
                failures += not result.ok
                record(maker.add(result))
                bar.set_postfix(errors=failures, refresh=False)
                bar.update(1)

        try:
            for result in tfs.iter_classify(sources, version=args.version, label=args.label,
                                            signature_name=args.signature_name, batch_size=args.batch_size,
                                            concurrency=args.concurrency):
                emit([result])
        except TFServingError as exc:
            if not seen:
                raise  # nothing answered: the target itself is unusable (exit 3, no rows)
            stopped = exc
            emit(_remaining(sources, seen, exc))
        record(maker.finish())
    return _report(args, maker, written, stopped)


def _file_rows(path: Path, sources: Sequence[str]) -> list[dict[str, Any]]:
    """The latest row of each of `sources` in the results file."""
    wanted = set(sources)
    return [row for row in latest_rows(read_rows(path)) if str(row.get("source")) in wanted]


def _report(args: argparse.Namespace, maker: RowMaker, written: list[dict[str, Any]],
            stopped: TFServingError | None) -> int:
    classified = sum(row["error_type"] is None for row in written)
    errors = len(written) - classified
    if maker.detection is not None and args.truth != "none":
        print(maker.detection.summary, file=sys.stderr)
    # accuracy over the file's rows for these sources, resumed ones included
    rows = _file_rows(args.out, maker.sources) if args.out is not None else written
    accuracy = accuracy_text(rows) if args.truth != "none" else None
    print(f"classified {classified}, errors {errors}" + (f", {accuracy}" if accuracy else "")
          + (f", written to {args.out}" if args.out else ""), file=sys.stderr)
    gone = [row for row in written if row["error_type"] in TARGET_GONE]
    if stopped is not None or gone:
        print(f"error: the model or version went away during the run: {len(gone)} inputs not classified"
              + (f"; rerun with --out {args.out} to resume" if args.out else ""), file=sys.stderr)
        return EXIT_SERVER
    if classified:
        return EXIT_OK
    if all(row["error_type"] in RETRYABLE_ERRORS for row in written):
        # every image failed because the server did: rerunning resumes them
        print("error: the server failed every request", file=sys.stderr)
        return EXIT_SERVER
    return EXIT_NOTHING_CLASSIFIED


def _paths_or_dataset(args: argparse.Namespace, done_before: set[str]) -> str | None:
    """Why classify's inputs are unusable (PATHs or --dataset, one of them), or None."""
    if args.dataset is None:
        return None if args.paths else "classify needs PATHs, or --dataset NAME"
    if args.paths:
        return "give PATHs or --dataset, not both"
    if args.truth != "none":
        return "--dataset brings its own truth; leave out --truth"
    if done_before:
        return (f"--out {args.out} already has rows: a run on a dataset is stored whole, so write to a new file "
                "(or delete it)")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "dataset":
        return run_dataset_command(args)
    if args.command == "classify":
        if args.batch_size < 1 or args.concurrency < 1:
            print("error: --batch-size and --concurrency must be >= 1", file=sys.stderr)
            return EXIT_USAGE
    done_before: set[str] = set()
    truth_file: tuple[str, bytes] | None = None
    if args.command == "classify":
        try:
            truth_file = truth_file_of(args.truth, TRUTH_METHODS)
        except (OSError, TruthFileError) as exc:
            print(f"error: --truth {exc}", file=sys.stderr)
            return EXIT_USAGE
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
        signature = signature_config_of(args.signature_config)
    except (OSError, ValueError, InvalidArgumentError) as exc:
        print(f"error: --signature-config {exc}", file=sys.stderr)
        return EXIT_USAGE
    dataset, profile, labels = None, None, None
    if args.command == "classify":
        usage = _paths_or_dataset(args, done_before)
        if usage:
            print(f"error: {usage}", file=sys.stderr)
            return EXIT_USAGE
        try:
            profile = ModelProfile.from_file(args.profile) if args.profile is not None else None
        except InvalidArgumentError as exc:
            print(f"error: --profile {exc}", file=sys.stderr)
            return EXIT_USAGE
        labels = [name.strip() for name in args.labels.split(",")] if args.labels else None
        if args.dataset is not None:
            from client.dataset_run import DatasetRun
            from client.store import DatasetError, StoreError
            try:
                dataset = DatasetRun(args.dataset)
            except StoreError as exc:
                print(f"error: --dataset {exc}", file=sys.stderr)
                return EXIT_USAGE if isinstance(exc, DatasetError) else EXIT_STORE
            args.truth = "file"   # the dataset's truth table: its summary and the accuracy are reported
    try:
        with TFServingClient(args.url, args.model, timeout=args.timeout, retries=args.retries,
                             signature=signature, profile=profile, labels=labels) as tfs:
            if args.command == "status":
                statuses = tfs.status(version=args.version, label=args.label)
                print(f"{'version':>7}  {'state':<12} {'error_code':<10} error_message")
                for s in statuses:
                    print(f"{s.version:>7}  {s.state:<12} {s.error_code:<10} {s.error_message}")
                return EXIT_OK
            if args.command == "metadata":
                _print_metadata(tfs.metadata(version=args.version, label=args.label))
                return EXIT_OK
            if dataset is None:
                return _classify(tfs, args, done_before, truth_file)
            return dataset.recorded(lambda: _classify(tfs, args, done_before, truth_file, dataset), url=args.url,
                                    model=args.model, target=target_text(version=args.version, label=args.label),
                                    exit_store=EXIT_STORE)
    except KeyboardInterrupt:
        print("\ninterrupted" + (f"; rerun with --out {args.out} to resume" if getattr(args, "out", None) else ""),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # writing --out failed (disk full, permissions)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InvalidArgumentError as exc:  # a bad --url (or a grpc:// one without the grpc extra), --model, --label,
        # --labels or --profile: refused before sending
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TFServingError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_SERVER
