"""The Compare page through Streamlit's AppTest: a fake TF Serving with two versions that disagree in a known way
(fast), and one live test on the embedded server's pets versions 1 and 2 with real photos (slow).

Every verdict number is checked against what the test computes from the runs' stored rows, with scipy's exact
binomial test as the cross-check of McNemar's p.
"""
from __future__ import annotations

import json
import re
import threading

import numpy as np
import pytest
from scipy.stats import binomtest

from dashboard.runs.latency_probe import LatencyProbe, how_measured
from client.store.database import open_store
from dashboard.targets import Target
from dashboard.ui import state
from tests.dashboard.compare.support import (
    GREEN,
    RED,
    TwoVersions,
    counted,
    frame_with,
    headline_of,
    labelled_zip,
    open_compare,
    paired_counts,
    start_comparison,
    verdict_of,
    wait_for,
)
from tests.dashboard.conftest import CORRUPT_JPEG
from tests.dashboard.readable import plain, texts
from tests.dashboard.test_pages_live import half_plus_two_url  # noqa: F401 - a fixture
from tests.support import fake_model_handler, half_plus_two_metadata, png_bytes, zip_bytes


@pytest.fixture
def two_versions(fake_server):
    model = TwoVersions()
    server = fake_server(model)
    return model, server


@pytest.fixture
def database(tmp_path) -> str:
    return str(tmp_path / "runs.db")


@pytest.mark.slow
def test_the_verdict_equals_what_the_stored_rows_say(page, two_versions, database):
    model, server = two_versions
    app = open_compare(page, server.url, database)
    assert app.multiselect(key="compare_targets").value == [Target(label="stable"), Target(label="canary")]
    comparison_id = start_comparison(app, ("pets.zip", labelled_zip(), "application/zip"))
    assert app.query_params["comparison"] == comparison_id
    store, (run_a, run_b) = wait_for(database, comparison_id)
    app.run()
    assert not app.exception, app.exception

    counts = paired_counts(store, run_a, run_b)
    assert (counts["n"], counts["fixes"], counts["regressions"]) == (18, 5, 1)
    p = binomtest(counts["fixes"], counts["fixes"] + counts["regressions"], 0.5).pvalue
    sentence = verdict_of(app)
    assert sentence.startswith(f"Not enough evidence that B is better: {(counts['acc_b'] - counts['acc_a']) * 100:+.1f}"
                               " points (95% CI")
    assert f"5 fixes, 1 regression, McNemar p = {p:.4g} — not significant at 0.05 on 18 images." in sentence
    metrics = {plain(m.label): m.value for m in app.metric}
    assert metrics["A: label stable (v1)"] == f"{counts['acc_a']:.1%}"
    assert metrics["B: label canary (v2)"] == f"{counts['acc_b']:.1%}"
    assert "McNemar's exact test" not in metrics   # its p is in the statistics text, not a headline
    assert metrics["Fixes / regressions"] == "5 / 1"
    assert headline_of(app).startswith("Keep label stable (v1) for now: label canary (v2) fixes 5 images and breaks 1 "
                                       "on 18 labelled images (")
    # The cost table: each side's latency measured on its own after the run (the latency probe: one untimed
    # request per side, then 8 rounds of the same 4 images, one image per request, A and B in turn), not the
    # concurrent run's timings; every image answered.
    cost = frame_with(app, "p95_ms")
    assert cost["side"].tolist() == ["A: label stable (v1)", "B: label canary (v2)"]
    assert cost["images"].tolist() == [18, 18] and cost["server_errors"].tolist() == [0, 0]
    assert cost["input_errors"].tolist() == [0, 0] and cost["probe_requests"].tolist() == [32, 32]
    assert model.predicts[-66:] == [(1, 1), (2, 1)] * 33
    probe = LatencyProbe.from_json(store.get_comparison(comparison_id).latency_probe)
    for row, run_id in zip(cost.itertuples(), (run_a, run_b)):
        latencies = probe.side(run_id).latencies_ms
        assert row.p50_ms == pytest.approx(float(np.percentile(latencies, 50)))
        assert row.images_per_s == pytest.approx(1000 / float(np.mean(latencies)))
    assert how_measured(8, 4) in texts(app.caption)
    warm_ups = [(v, n) for v, n in model.predicts[:-66] if n == 1]
    assert sorted(v for v, _ in warm_ups) == [1, 1, 2, 2]   # one warm-up per side, one probe per target
    # With truth: both confusion matrices (and their difference), titled by side.
    specs = [chart.proto.spec for chart in app.get("vega_lite_chart")]
    for side in ("A: label stable (v1)", "B: label canary (v2)"):
        assert sum(json.dumps(f"Confusion matrix, {side}") in spec for spec in specs) == 1, side
    assert any(json.dumps("Confusion difference (B − A)")[1:-1] in spec for spec in specs)
    # What promoting B means: the stable label moved to version 2, after version 2 is loaded beside version 1.
    codes = [code.value for code in app.code]
    assert any('key: "stable"\n      value: 2' in code and "versions: 1\n      versions: 2" in code for code in codes)
    assert [b.proto.label for b in app.get("download_button")] == [
        "Per-image CSV", "Per-image JSON", "Report (HTML)", "Report (Markdown)"]


@pytest.mark.slow
def test_a_label_that_moves_during_the_run_is_warned(page, two_versions, database):
    model, server = two_versions
    real = model.__call__

    def moving(request):
        answer = real(request)
        if request.method == "POST" and "/versions/2:" in request.path and model.predicts[-1][1] > 1:
            model.labels["canary"] = 1   # the operator moves canary back while the comparison runs
        return answer

    server.handler = moving
    app = open_compare(page, server.url, database)
    comparison_id = start_comparison(app, ("pets.zip", labelled_zip(), "application/zip"))
    store, run_ids = wait_for(database, comparison_id)
    app.run()
    assert dict(store.get_run(run_ids[1]).labels_at_end)["canary"] == 1
    assert ("B (label canary (v2)) pointed at version 2 when the run started and at version 1 when it ended: the "
            "comparison may mix versions.") in texts(app.warning)


def test_a_running_comparison_survives_navigation_and_cancel_keeps_what_finished(page, two_versions, database):
    model, server = two_versions
    model.gate = threading.Event()
    app = open_compare(page, server.url, database)
    comparison_id = start_comparison(app, ("pets.zip", labelled_zip(), "application/zip"))
    bars = [plain(bar.proto.text) for bar in app.get("progress")]
    assert [bar.split(":", 1)[0] for bar in bars] == ["label stable", "label canary"]
    # While a side runs: its counts, images/s and time left once it has a rate (none yet: the gate holds it).
    assert all(re.search(r": (0 / 18 images · 0 errors so far|queued: 0 of 18 image\(s\) classified so far)$", bar)
               for bar in bars), bars
    app.switch_page("app_pages/history.py").run()
    app.switch_page("app_pages/compare.py").run()   # back: the session still shows the running comparison
    assert not app.exception
    assert app.query_params["comparison"] == comparison_id
    store = open_store(database)
    comparison = store.get_comparison(comparison_id)
    run_ids = [comparison.baseline_run_id, *comparison.other_run_ids]
    assert all(store.get_run(r).status in ("queued", "running") for r in run_ids)
    app.button(key="compare_cancel").click().run()
    model.gate.set()
    wait_for(database, comparison_id)
    app.run()
    assert not app.exception
    assert [store.get_run(r).status for r in run_ids] == ["cancelled", "cancelled"]
    outcomes = [w for w in texts(app.warning) if " cancelled with " in w]
    assert [o.split(":", 1)[0] for o in outcomes] == ["label stable (v1)", "label canary (v2)"]
    assert texts(app.info)[-1] == ("No verdict: label stable (v1), label canary (v2) classified no image, so there "
                                   "is nothing to compare.")


@pytest.mark.slow
def test_a_flip_cell_lists_its_images_with_thumbnails_and_corrections_go_to_every_run(page, two_versions,
                                                                                       database):
    _, server = two_versions
    app = open_compare(page, server.url, database)
    comparison_id = start_comparison(app, ("pets.zip", labelled_zip(), "application/zip"))
    store, run_ids = wait_for(database, comparison_id)
    app.run()
    cell = app.selectbox(key="compare_0_flip_cell")
    assert cell.options == ["every image where the top class changed", "every image, the most changed first",
                            "cat → cat (4)", "dog → cat (6)",
                            "dog → dog (4)", "other → other (4)"]
    cell.set_value("dog → cat (6)").run()
    listed = frame_with(app, "js_distance")
    assert sorted(listed["source"]) == sorted([f"pets.zip/pets/cat/swapped{i}.png" for i in range(5)]
                                              + ["pets.zip/pets/dog/swapped.png"])
    assert all(uri.startswith("data:image/jpeg;base64,") for uri in listed["thumbnail"])

    # The dog folder's swapped image is really a cat: corrected, it is a fix, not a regression, on both runs.
    app.selectbox(key="compare_0_correct_image").set_value("pets.zip/pets/dog/swapped.png")
    assert app.button(key="compare_0_correct_save").disabled   # no class is chosen for the reader
    app.selectbox(key="compare_0_correct_class").set_value("cat").run()
    app.button(key="compare_0_correct_save").click().run()
    assert not app.exception
    for run_id in run_ids:
        rows = store.run_rows(run_id).set_index("source")
        assert rows.at["pets.zip/pets/dog/swapped.png", "correction"] == "cat"
    counts = paired_counts(store, *run_ids)
    assert (counts["fixes"], counts["regressions"]) == (6, 0)
    p = binomtest(6, 6, 0.5).pvalue
    assert f"6 fixes, 0 regressions, McNemar p = {p:.4g}" in verdict_of(app)


@pytest.mark.slow
def test_a_comparison_reopens_by_its_link_in_a_new_session(page, two_versions, database):
    _, server = two_versions
    app = open_compare(page, server.url, database)
    comparison_id = start_comparison(app, ("pets.zip", labelled_zip(), "application/zip"))
    wait_for(database, comparison_id)
    app.run()
    first = verdict_of(app)

    again = page("compare", server.url, SERVESCOPE_DB=database)
    again.query_params["comparison"] = comparison_id
    again.run()
    assert not again.exception
    assert verdict_of(again) == first
    assert any(f"?comparison={comparison_id}" in code.value for code in again.code)

    # History links one side's run: the comparison that holds it opens.
    from client.store.database import open_store
    side_run = open_store(database).get_comparison(comparison_id).other_run_ids[0]
    by_run = page("compare", server.url, SERVESCOPE_DB=database)
    by_run.query_params["run"] = side_run
    by_run.run()
    assert not by_run.exception
    assert verdict_of(by_run) == first
    linked = by_run.query_params["comparison"]  # AppTest keeps a query parameter as a list of its values
    assert (linked if isinstance(linked, str) else linked[0]) == comparison_id

    missing = page("compare", server.url, SERVESCOPE_DB=database)
    missing.query_params["comparison"] = "0123456789ab"
    missing.run()
    assert "No comparison 0123456789ab is stored (it may have been deleted)." in texts(missing.error)


@pytest.mark.slow
def test_three_targets_each_against_the_chosen_baseline(page, two_versions, database):
    _, server = two_versions
    app = open_compare(page, server.url, database)
    app.multiselect(key="compare_targets").set_value(
        [Target(label="stable"), Target(label="canary"), Target(version=2)]).run()
    app.selectbox(key="compare_baseline_target").set_value(1).run()   # canary is A
    comparison_id = start_comparison(app, ("pets.zip", labelled_zip(), "application/zip"))
    store, run_ids = wait_for(database, comparison_id)
    assert [store.get_run(r).target for r in run_ids] == ["label:canary", "label:stable", "version:2"]
    app.run()
    assert not app.exception
    assert [plain(t.label) for t in app.tabs] == ["B: label stable (v1)", "B: version 2"]
    sentences = [verdict_of_tab for verdict_of_tab in texts(app.caption)
                 if re.match(r"^(B is|No detectable|Not enough)", verdict_of_tab)]
    assert sentences[0].startswith("Not enough evidence that B is worse")   # stable against canary: reversed
    assert sentences[1].startswith("No detectable difference: +0.0 points")  # version 2 is canary's version
    assert ("A (label canary (v2)) and B (version 2) were both answered by version 2: any difference between them "
            "is noise, not a change of model.") in texts(app.warning)
    # Another baseline chosen on the stored comparison: each other target against version 2.
    app.selectbox(key=f"compare_baseline_{comparison_id}").set_value(2).run()
    assert [plain(t.label) for t in app.tabs] == ["B: label canary (v2)", "B: label stable (v1)"]


def test_the_same_version_twice_is_warned_before_running(page, two_versions, database):
    _, server = two_versions
    app = open_compare(page, server.url, database)
    app.multiselect(key="compare_targets").set_value([Target(label="stable"), Target(version=1)]).run()
    assert not app.exception
    assert "label stable and version 1 all reach version 1: any difference between them is noise, not a change " \
           "of model." in texts(app.warning)
    signatures = frame_with(app, "differs")
    assert list(signatures.columns) == ["part", "name", "label stable (v1)", "version 1", "differs"]
    assert signatures.set_index("name").at["names", "version 1"] == "cat, dog, other"
    assert not signatures["differs"].any()


@pytest.mark.slow
def test_different_class_sets_are_aligned_with_a_note_or_refused(page, two_versions, database):
    model, server = two_versions
    model.versions = (1, 2, 3)
    app = open_compare(page, server.url, database)
    app.multiselect(key="compare_targets").set_value([Target(version=1), Target(version=3)]).run()
    note = ("version 3: Different class sets: probabilities are compared on the 2 common classes (cat, dog); only A "
            "has other, only B has bird. Accuracy counts each side's own top class.")
    assert note in texts(app.info)
    signatures = frame_with(app, "differs").set_index("name")
    assert signatures.at["names", "version 3"] == "cat, dog, bird" and signatures.at["names", "differs"]
    comparison_id = start_comparison(app, ("pets.zip", labelled_zip(), "application/zip"))
    wait_for(database, comparison_id)
    app.run()
    assert not app.exception
    assert "Not enough evidence" in verdict_of(app) or "B is" in verdict_of(app)
    app.radio(key=f"compare_classes_{comparison_id}").set_value("refuse").run()
    assert texts(app.error) == ["These targets cannot be compared: A and B have different classes (A has cat, dog, "
                                "other; B has cat, dog, bird)"]


@pytest.mark.slow
def test_a_truth_file_gives_the_ground_truth_that_is_stored(page, two_versions, database):
    _, server = two_versions
    app = open_compare(page, server.url, database)
    archive = zip_bytes({"a.png": png_bytes(RED), "b.png": png_bytes(GREEN)})
    app.file_uploader(key="compare_uploads").set_value([("plain.zip", archive, "application/zip")]).run()
    assert "no ground truth found: neither folder nor file names match the classes cat, dog, other" in [
        plain(c.value) for c in app.caption]
    truth = b"source,label\nplain.zip/a.png,cat\nplain.zip/b.png,Cats\n"
    app.file_uploader(key="compare_truth_file").set_value([("truth.csv", truth, "text/csv")]).run()
    assert "ground truth from the truth file: 1 class, 2 of 2 images" in [plain(c.value) for c in app.caption]
    app.button(key="compare_run").click().run()
    store, run_ids = wait_for(database, app.session_state[state.COMPARISON])
    for run_id in run_ids:
        assert store.run_rows(run_id)["ground_truth"].tolist() == ["cat", "cat"]
        assert store.get_run(run_id).truth_summary == "ground truth from the truth file: 1 class, 2 of 2 images"


@pytest.mark.slow
def test_file_names_reach_the_page_as_plain_text(page, two_versions, database):
    from tests.dashboard.test_pages import assert_plain, markdown_bodies
    _, server = two_versions
    folder = "x![b](javascript:alert(1)) **bold** <img src=x onerror=alert(1)>"  # a truth value matching no class
    app = open_compare(page, server.url, database)
    app.file_uploader(key="compare_uploads").set_value([("z.zip", zip_bytes(
        {f"{folder}/pic.png": png_bytes(GREEN), "dog/ok.png": png_bytes(GREEN)}), "application/zip")]).run()
    assert any(folder in plain(body) for body in markdown_bodies(app))   # shown, in the truth summary
    app.button(key="compare_run").click().run()
    wait_for(database, app.session_state[state.COMPARISON])
    app.run()
    app.selectbox(key="compare_0_flip_cell").set_value("dog → dog (2)").run()
    assert not app.exception
    assert f"z.zip/{folder}/pic.png" in frame_with(app, "js_distance")["source"].tolist()
    assert_plain(markdown_bodies(app))


def test_a_model_that_cannot_classify_images_gets_a_clear_message_and_nothing_is_sent(page, fake_server, database):
    """TF Serving's half_plus_two (one float input x of shape [-1, 1]): explained before any image is sent."""
    server = fake_server(fake_model_handler(metadata=half_plus_two_metadata))
    app = open_compare(page, server.url, database, SERVESCOPE_MODEL="half_plus_two")
    app.session_state[state.MODEL] = "half_plus_two"
    app.run()
    assert not app.exception
    errors = texts(app.error)
    assert [e.split(": Model", 1)[0] for e in errors] == ["label stable", "label canary"]
    assert all(e.split(": ", 1)[1].startswith(f"Model 'half_plus_two' at {server.url} cannot be used to classify "
                                              "images: ") for e in errors), errors
    assert "'x'" in errors[0]   # names the input that does not fit
    app.file_uploader(key="compare_uploads").set_value([("red.png", png_bytes(RED), "image/png")]).run()
    assert app.button(key="compare_run").disabled
    assert not [call for call in server.calls if call[0] == "POST"]


@pytest.mark.slow
def test_an_upload_with_a_corrupt_file_costs_one_row_on_each_side(page, two_versions, database):
    _, server = two_versions
    app = open_compare(page, server.url, database)
    archive = zip_bytes({"cat/red.png": png_bytes(RED), "dog/green.png": png_bytes(GREEN),
                         "cat/broken.jpg": CORRUPT_JPEG})
    comparison_id = start_comparison(app, ("few.zip", archive, "application/zip"))
    store, run_ids = wait_for(database, comparison_id)
    app.run()
    assert [store.get_run(r).errors for r in run_ids] == [1, 1]
    assert "1 image failed on A or B and is left out of the paired statistics." in texts(app.warning)
    # The corrupt file is an input error, listed apart; the server's error rate counts server errors only.
    cost = frame_with(app, "p95_ms")
    assert cost["server_errors"].tolist() == [0, 0] and cost["error_rate"].tolist() == [0.0, 0.0]
    assert cost["input_errors"].tolist() == [1, 1]
    [listed] = [e for e in app.expander if e.label.startswith("Input errors (2)")]
    [table] = [frame.value for frame in listed.dataframe]
    assert table["source"].tolist() == ["few.zip/cat/broken.jpg"] * 2
    assert table["side"].tolist() == ["A: label stable (v1)", "B: label canary (v2)"]


@pytest.mark.slow
def test_pets_versions_1_and_2_on_labelled_photos(page, pets_server_url, labelled_photos, database):
    """The real model server and the real photos in a ZIP of class folders: every number of the verdict equals
    what the two stored runs' rows say."""
    archive = zip_bytes({f"photos/{label}/{path.name}": path.read_bytes() for path, label in labelled_photos})
    app = open_compare(page, pets_server_url, database)
    app.multiselect(key="compare_targets").set_value([Target(version=1), Target(version=2)]).run()
    comparison_id = start_comparison(app, ("photos.zip", archive, "application/zip"))
    store, (run_a, run_b) = wait_for(database, comparison_id, timeout=300)
    app.run()
    assert not app.exception, app.exception
    assert [store.get_run(r).version for r in (run_a, run_b)] == [1, 2]

    counts = paired_counts(store, run_a, run_b)
    assert counts["n"] == len(labelled_photos)
    discordant = counts["fixes"] + counts["regressions"]
    p = binomtest(counts["fixes"], discordant, 0.5).pvalue if discordant else 1.0
    shown_p = "p < 0.0001" if p < 0.0001 else f"p = {p:.4g}"
    difference = (counts["acc_b"] - counts["acc_a"]) * 100
    sentence = verdict_of(app)
    assert f": {difference:+.1f} points (95% CI " in sentence
    assert (f"{counted(counts['fixes'], 'fix')}, {counted(counts['regressions'], 'regression')}, McNemar {shown_p} — "
            f"{'significant' if p < 0.05 else 'not significant'} at 0.05 on {counts['n']} images.") in sentence
    metrics = {plain(m.label): m.value for m in app.metric}
    assert metrics["A: version 1"] == f"{counts['acc_a']:.1%}"
    assert metrics["B: version 2"] == f"{counts['acc_b']:.1%}"
    assert f"McNemar's exact test: {shown_p}, two-sided" in " ".join(texts(app.caption))
    assert metrics["Fixes / regressions"] == f"{counts['fixes']} / {counts['regressions']}"
    cost = frame_with(app, "p95_ms")
    assert cost["server_errors"].tolist() == [0, 0] and (cost["p50_ms"] > 0).all()


@pytest.mark.slow
def test_half_plus_two_on_the_embedded_server_is_explained_before_any_upload(page, half_plus_two_url, database):
    app = page("compare", half_plus_two_url, model="half_plus_two", SERVESCOPE_DB=database).run()
    assert not app.exception
    errors = texts(app.error)
    assert [e.split(": ", 1)[0] for e in errors] == ["version 1", "latest"]
    for error in errors:
        assert error.split(": ", 1)[1].startswith(f"Model 'half_plus_two' at {half_plus_two_url} cannot be used to "
                                                  "classify images: ") and "'x'" in error
    assert app.button(key="compare_run").disabled


def test_a_running_side_shows_its_rate_and_time_left_and_the_probe_its_requests():
    from dashboard.compare.view import probe_text, side_progress_text
    from dashboard.runs.manager import Progress
    running = Progress("r1", "running", 100, 40, 1, 3.2, 12.5, 4.8, "running: 39 of 100 image(s) classified so far",
                       None)
    assert side_progress_text("A: version 1", running) == (
        "A: version 1: 40 / 100 images · 12.5 images/s · about 5 s left · 1 error so far")
    ended = Progress("r1", "complete", 100, 100, 0, 8.0, 12.5, None, "complete: 100 of 100 image(s) classified",
                     None)
    assert side_progress_text("B: version 2", ended) == "B: version 2: complete: 100 of 100 image(s) classified"
    assert probe_text(12, 64) == ("Measuring each side's latency on its own (one side at a time, one image per "
                                  "request): 12 of 64 requests.")


@pytest.mark.slow
def test_a_listed_image_opens_with_a_and_b_side_by_side_and_both_maps(page, two_versions, database):
    from dashboard.evaluate import detail_view, occlusion
    model, server = two_versions
    app = open_compare(page, server.url, database)
    comparison_id = start_comparison(app, ("pets.zip", labelled_zip(), "application/zip"))
    store, run_ids = wait_for(database, comparison_id)
    app.run()
    app.selectbox(key="compare_0_flip_cell").set_value("dog → cat (6)").run()
    [listing] = [frame for frame in app.dataframe if "js_distance" in frame.value.columns]
    sources = listing.value["source"].tolist()
    row = sources.index("pets.zip/pets/dog/swapped.png")
    app.session_state[listing.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception
    queue = app.session_state[detail_view._state("compare_0")]
    assert (queue.name, queue.sources, queue.index) == ("“dog → cat (6)”", tuple(sources), row)
    specs = [chart.proto.spec for chart in app.get("vega_lite_chart")]
    for side in ("A: label stable (v1): class probabilities", "B: label canary (v2): class probabilities"):
        assert sum(json.dumps(side) in spec for spec in specs) == 1, side
    assert "True class: dog (detected at upload)" in texts(app.text)
    # The correction from the view goes to every run of the comparison, and the view moves on.
    [choice] = [radio for radio in app.radio if radio.label.startswith("True class")]
    assert choice.value is None
    choice.set_value("cat").run()
    [save] = [b for b in app.button if b.label == detail_view.SAVE_BUTTON]
    save.click().run()
    assert not app.exception, app.exception
    for run_id in run_ids:
        assert store.run_rows(run_id).set_index("source").at["pets.zip/pets/dog/swapped.png", "correction"] == "cat"
    assert app.session_state[detail_view._state("compare_0")].index == min(row + 1, len(sources) - 1)
    # Where each model looked: one batch of the thumbnail and its 64 masked copies per side, drawn side by side.
    before = len(model.predicts)
    [button] = [b for b in app.button if b.label == detail_view.MAP_BUTTON]
    button.click().run()
    assert not app.exception, app.exception
    assert model.predicts[before:] == [(1, occlusion.DEFAULT_GRID ** 2 + 1), (2, occlusion.DEFAULT_GRID ** 2 + 1)]
    costs = [c for c in texts(app.caption) if c.startswith("1 request, 65 images, ")]
    assert len(costs) == 2
