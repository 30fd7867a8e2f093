"""`make bench` writes what the benchmarks print into docs/performance.md's "Latest run" section, dated."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from benchmarks import report
from tests.support import ROOT

DOCUMENT = """# Speed and memory

Intro.

## Latest run

old figures
<!-- bench:end -->

## Earlier figures

kept as written
"""


def test_the_latest_section_is_replaced_and_the_rest_kept():
    section = report.latest_section(
        [report.Outcome("python -m benchmarks.x", "What x measures.", "12.5 img/s", 0, 3.2),
         report.Outcome("python -m benchmarks.y --fast", "", "[exit code 1; stderr ends]\nboom", 1, 0.4)],
        datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc), "2 cores", "abc1234")
    updated = report.replace_latest(DOCUMENT, section)
    assert updated.startswith("# Speed and memory\n\nIntro.\n\n## Latest run\n\nRun on 2026-12-07 09:30 UTC")
    assert updated.endswith("<!-- bench:end -->\n\n## Earlier figures\n\nkept as written\n")
    assert "old figures" not in updated and updated.count("## Latest run") == 1
    assert "(every benchmark, as `make bench` runs them) at commit abc1234; 2 cores." in updated
    assert "2 benchmark run(s), 1 failed: python -m benchmarks.y --fast." in updated
    assert "### `python -m benchmarks.x`\n\nWhat x measures.\n\nTook 3 s.\n\n```\n12.5 img/s\n```" in updated
    assert "Took 0 s; failed with exit code 1.\n\n```\n[exit code 1; stderr ends]\nboom\n```" in updated
    # Applied again, the new section is replaced in turn.
    assert report.replace_latest(updated, "## Latest run\nx\n<!-- bench:end -->").count("Run on") == 0


def test_a_document_without_the_markers_is_refused():
    with pytest.raises(ValueError, match="no '## Latest run' heading followed by '<!-- bench:end -->'"):
        report.replace_latest("# Speed\n\nno markers\n", "x")
    with pytest.raises(ValueError):
        report.replace_latest("<!-- bench:end -->\n## Latest run\n", "x")


def test_the_projects_performance_document_has_the_markers():
    report.replace_latest((ROOT / "docs" / "performance.md").read_text(), "")


def test_every_listed_benchmark_exists_and_says_what_it_measures():
    for module, _ in report.BENCHMARKS:
        assert report.summary_of(module), module


def test_main_runs_the_benchmarks_as_processes_and_reports_a_failure(tmp_path, monkeypatch):
    # Two real subprocesses of a module that exists: one succeeds (--help), one fails (an unknown --only).
    monkeypatch.setattr(report, "BENCHMARKS", (("report", ("--help",)), ("report", ("--only", "nope"))))
    doc = tmp_path / "performance.md"
    doc.write_text(DOCUMENT)
    assert report.main(["--doc", str(doc)]) == 1
    written = doc.read_text()
    assert "### `python -m benchmarks.report --help`" in written and "usage:" in written
    assert "failed with exit code 2" in written and "unknown benchmark(s): nope" in written
    assert written.endswith("## Earlier figures\n\nkept as written\n")
    assert "(every benchmark, as `make bench` runs them)" in written


def test_main_refuses_an_unknown_benchmark_before_running_anything(tmp_path, capsys):
    doc = tmp_path / "performance.md"
    doc.write_text(DOCUMENT)
    with pytest.raises(SystemExit) as exited:
        report.main(["--doc", str(doc), "--only", "nope"])
    assert exited.value.code == 2 and "unknown benchmark(s): nope" in capsys.readouterr().err
    assert doc.read_text() == DOCUMENT
