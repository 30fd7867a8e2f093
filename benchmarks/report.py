"""Run every benchmark and write what they print to docs/performance.md, dated: `make bench`.

    python -m benchmarks.report                      # every benchmark, in BENCHMARKS order
    python -m benchmarks.report --only store_write   # some of them (repeatable); the others are not run
    python -m benchmarks.report --doc /tmp/perf.md   # another document

The section between "## Latest run" and the "<!-- bench:end -->" marker is replaced with the date, the
machine, the commit and, per benchmark, its command, its first docstring line and its output (stdout; the
tail of stderr when it failed). Everything else on the page (the earlier figures and their analysis) is kept.
A benchmark that fails is reported as failed on the page and in the exit code; the others still run.
"""
from __future__ import annotations

import argparse
import ast
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
START = "## Latest run"
END = "<!-- bench:end -->"
STDERR_TAIL = 2000

# (module, arguments): the order `make bench` has always run them in.
BENCHMARKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model_versions", ()),
    ("server_speed", ()),
    ("server_speed", ("--intra-op", "1", "--skip-tutorial", "--skip-breakdown")),
    ("server_load", ()),
    ("pixel_decoding", ()),
    ("http_servers", ("--servers", "werkzeug,waitress")),
    ("pixel_path", ()),
    ("client_throughput", ()),
    ("grpc_encoding", ()),
    ("grpc_transfer", ()),
    ("client_memory", ()),
    ("pixel_preparation", ()),
    ("replicas", ()),
    ("store_write", ()),
    ("datasets", ()),
    ("dashboard_classify", ()),
    ("dashboard_memory", ()),
    ("dashboard_dataset_memory", ()),
    ("compare_concurrency", ()),
    ("page_heights", ()),
    ("occlusion_cost", ()),
    ("hostile_server", ()),
    ("hostile_answers", ()),
)


@dataclass(frozen=True)
class Outcome:
    command: str
    summary: str        # the benchmark module's first docstring line
    output: str         # what it printed (stdout, then the tail of stderr when it failed)
    returncode: int
    seconds: float


def summary_of(module: str) -> str:
    path = ROOT / "benchmarks" / f"{module}.py"
    doc = ast.get_docstring(ast.parse(path.read_text(), filename=str(path))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def run(module: str, args: tuple[str, ...], python: str = sys.executable) -> Outcome:
    command = [python, "-m", f"benchmarks.{module}", *args]
    shown = " ".join(["python", "-m", f"benchmarks.{module}", *args])
    print(f"== {shown}", flush=True)
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    output = done.stdout.rstrip()
    if done.returncode != 0:
        output += f"\n[exit code {done.returncode}; stderr ends]\n" + done.stderr[-STDERR_TAIL:].rstrip()
    print(output, flush=True)
    return Outcome(shown, summary_of(module), output, done.returncode, seconds)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor() or "unknown CPU")
    memory = next((line.split(":", 1)[1].strip() for line in _lines("/proc/meminfo") if line.startswith("MemTotal")),
                  "unknown")
    return f"{os.cpu_count()} cores ({cpu}), {memory} memory, Python {platform.python_version()}, {platform.system()}"


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return (found.stdout.strip() or "unknown") + (" with uncommitted changes" if dirty else "")


def latest_section(outcomes: list[Outcome], when: datetime, machine_text: str, commit_text: str,
                   only: list[str] | None = None) -> str:
    """The Markdown of the "Latest run" section, heading to marker. `only`: the benchmarks chosen, when not all."""
    failed = [o.command for o in outcomes if o.returncode != 0]
    chosen = f"only {', '.join(only)}" if only else "every benchmark, as `make bench` runs them"
    lines = [START, "", f"Run on {when:%Y-%m-%d %H:%M} UTC by `python -m benchmarks.report` ({chosen}) at commit "
             f"{commit_text}; {machine_text}.",
             f"{len(outcomes)} benchmark run(s)" + (f", {len(failed)} failed: {', '.join(failed)}." if failed else
                                                   ", none failed."), ""]
    for outcome in outcomes:
        lines += [f"### `{outcome.command}`", ""]
        if outcome.summary:
            lines += [outcome.summary, ""]
        lines += [f"Took {outcome.seconds:.0f} s" + ("." if outcome.returncode == 0 else
                                                     f"; failed with exit code {outcome.returncode}."), "",
                  "```", outcome.output or "(printed nothing)", "```", ""]
    lines.append(END)
    return "\n".join(lines)


def replace_latest(document: str, section: str) -> str:
    """The document with the text from START to END (both included) replaced by `section`. ValueError when the
    document lacks either marker (nothing is guessed)."""
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no '{START}' heading followed by '{END}'")
    return document[:start] + section + document[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)")
    parser.add_argument("--doc", type=Path, default=DOC, help="the performance document to update")
    args = parser.parse_args(argv)
    known = {module for module, _ in BENCHMARKS}
    if unknown := set(args.only or ()) - known:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    chosen = [(m, a) for m, a in BENCHMARKS if not args.only or m in args.only]
    document = args.doc.read_text()
    replace_latest(document, "")   # refuse a document without the markers before an hour of benchmarks
    outcomes = [run(module, extra) for module, extra in chosen]
    section = latest_section(outcomes, datetime.now(timezone.utc), machine(), commit(), args.only)
    args.doc.write_text(replace_latest(args.doc.read_text(), section))
    print(f"wrote {args.doc}")
    return 1 if any(o.returncode != 0 for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
