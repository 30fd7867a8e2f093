"""`python -m client dataset create|add|list|versions|export|delete`: datasets in the run store (SERVESCOPE_DB)
and their images in the image store (SERVESCOPE_BLOBS), the same ones the dashboard uses.

    python -m client dataset create march-audit audit/ --truth folders      # version 1
    python -m client dataset create march-audit audit2.zip --new-version    # version 2: exactly these images
    python -m client dataset add march-audit more/ --truth labels.csv       # version 3: 2's images and these
    python -m client dataset list
    python -m client dataset export march-audit@1 --out audit-v1.csv        # .csv, .jsonl or .parquet

Inputs are read as `classify` reads them (client.sources: files, folders, ZIPs) and truth found as it finds it
(client.truth): folder names, file names, or a CSV/JSON truth file. An input that cannot be read is listed and
left out. Exit codes: 0 done; 2 usage (a bad or taken name, no such dataset, an unreadable truth file, a bad --out,
no image could be stored); 4 the run store or the image store failed (unreachable, full, unwritable).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client.sources import Skipped, expand_sources
from client.truth import TruthFileError, read_truth_file

if TYPE_CHECKING:  # client.store (SQLAlchemy) is imported only when a dataset command runs
    from client.store import DatasetSummary, Datasets

__all__ = ["EXIT_STORE", "add_dataset_commands", "run_dataset_command"]

EXIT_OK, EXIT_USAGE, EXIT_STORE = 0, 2, 4
FAILED_SHOWN = 10
EXPORT_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}


def add_dataset_commands(commands: Any) -> None:
    """The `dataset` command and its actions, on the CLI's subparsers."""
    dataset = commands.add_parser("dataset", help="named, versioned image sets in the run store",
                                  description="Datasets in the run store (SERVESCOPE_DB), their images in the image "
                                              "store (SERVESCOPE_BLOBS).")
    actions = dataset.add_subparsers(dest="action", required=True)
    truth_help = ("ground truth stored with the images: the nearest folder name (cat/1.jpg), the file name's leading "
                  "word (cat.1.jpg), none, or a CSV/JSON file of source,label (default: %(default)s)")
    create = actions.add_parser("create", help="store images as a new dataset (or a new version of one)")
    create.add_argument("name", help="the dataset's name: plain text, e.g. march-audit")
    create.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders, .zip archives")
    create.add_argument("--truth", default="none", metavar="folders|names|none|FILE", help=truth_help)
    create.add_argument("--new-version", action="store_true",
                        help="if the name exists, make its next version of exactly these images")
    add = actions.add_parser("add", help="a new version: the newest version's images plus these")
    add.add_argument("name")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.add_argument("--truth", default="none", metavar="folders|names|none|FILE", help=truth_help)
    actions.add_parser("list", help="every dataset: newest version, images, truth, classes, runs")
    versions = actions.add_parser("versions", help="every version of a dataset")
    versions.add_argument("name")
    export = actions.add_parser("export", help="a version's images (source, truth, sha256, …) as a file")
    export.add_argument("reference", metavar="NAME[@VERSION]")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.csv|.jsonl|.parquet")
    delete = actions.add_parser("delete", help="delete a dataset and its images no other dataset or run uses")
    delete.add_argument("name")


def _truth(value: str) -> str | dict[str, str]:
    from client.store.datasets import TRUTH_METHODS
    if value in TRUTH_METHODS:
        return value
    path = Path(value)
    if not path.is_file():
        raise TruthFileError(f"{value}: no such file (or use one of {', '.join(TRUTH_METHODS)})")
    return read_truth_file(str(path), path.read_bytes())


def _failed_lines(failed: tuple[str, ...], skipped: list[Skipped]) -> list[str]:
    lines = [f"  not taken: {line}" for line in failed[:FAILED_SHOWN]]
    if len(failed) > FAILED_SHOWN:
        lines.append(f"  … and {len(failed) - FAILED_SHOWN} more not taken")
    if skipped:
        lines.append(f"  skipped {len(skipped)} non-image or hidden entr{'y' if len(skipped) == 1 else 'ies'} "
                     f"(e.g. {skipped[0].name}: {skipped[0].reason})")
    return lines


def _listing(summaries: list["DatasetSummary"]) -> list[str]:
    if not summaries:
        return ["no datasets"]
    table = [("name", "version", "images", "truth", "classes with truth", "runs")]
    for summary in summaries:
        classes = ", ".join(f"{label} {count}" for label, count in summary.class_balance.items()) or "-"
        table.append((summary.name, str(summary.latest_version), f"{summary.images:,}",
                      f"{summary.truth_known:,}/{summary.images:,}", classes, str(summary.runs)))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]


def _act(args: argparse.Namespace, datasets: "Datasets") -> int:
    if args.action in ("create", "add"):
        truth = _truth(args.truth)
        skipped: list[Skipped] = []
        items = expand_sources(args.paths, skipped=skipped)
        if args.action == "create":
            build = datasets.create(args.name, items, truth=truth, new_version=args.new_version)
        else:
            build = datasets.add_images(args.name, items, truth=truth)
        print(build.text() + (f" ({build.replaced} replaced)" if build.replaced else ""))
        print(f"  {build.truth_summary}")
        for line in _failed_lines(build.failed, skipped):
            print(line)
        return EXIT_OK
    if args.action == "list":
        print("\n".join(_listing(datasets.summaries())))
        return EXIT_OK
    if args.action == "versions":
        for version in datasets.versions(args.name):
            print(f"{version.version:>4}  {version.created_at:%Y-%m-%d %H:%M}  {version.images:>7,} image(s)  "
                  f"truth {version.truth_known:,}  {version.note or ''}".rstrip())
        return EXIT_OK
    if args.action == "export":
        kind = EXPORT_SUFFIXES.get(args.out.suffix.lower())
        if kind is None:
            raise ValueError(f"--out {args.out}: the file name must end in {', '.join(EXPORT_SUFFIXES)}")
        if not args.out.parent.is_dir():
            raise ValueError(f"--out {args.out}: folder {args.out.parent} does not exist")
        version = datasets.get(args.reference)
        args.out.write_bytes(datasets.export(version, kind))
        print(f"exported dataset {version.reference}: {version.images:,} image(s) to {args.out}")
        return EXIT_OK
    deleted = datasets.delete(args.name)
    print(f"deleted dataset {deleted.name!r} ({deleted.versions} version(s)); {deleted.images_deleted:,} image(s) "
          "no other dataset or run used were deleted from the image store")
    return EXIT_OK


def run_dataset_command(args: argparse.Namespace) -> int:
    from client.store import DatasetError, Datasets, StoreError, open_image_store, open_store
    try:
        store = open_store()
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORE
    try:
        return _act(args, Datasets(store, open_image_store(store)))
    except (DatasetError, TruthFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:   # the run store or the image store: unreachable, full, unwritable
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORE
    except OSError as exc:      # writing --out
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
