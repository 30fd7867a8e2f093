"""Every stored run keeps the profile it used (issue 19, part 2): the run view and History show it (short digest,
where it came from, what it is), exports carry its digest, Compare shows both sides' profiles beside the signatures
and warns when they differ, and the comparison report stamps them."""
from __future__ import annotations

import csv
import io

import pytest

from client import ModelProfile
from dashboard.compare import stored as stored_comparisons
from dashboard.compare.decision_view import per_image_table
from dashboard.compare.report import report_markdown, stamp_rows
from dashboard.runs import results as classify_runs
from tests.dashboard.compare.support import frame_with, start_comparison, wait_for
from tests.dashboard.profiles.fakes import (GREY, SIGMOID_PROFILE, finished_run,
                                           sigmoid_model, two_version_sigmoid, write_profile)
from tests.dashboard.readable import plain, texts
from tests.dashboard.test_pages import png_upload

DIGEST = ModelProfile.from_dict(SIGMOID_PROFILE).digest
PETS_VARIANT = {**SIGMOID_PROFILE, "preset": "pets"}
PETS_DIGEST = ModelProfile.from_dict(PETS_VARIANT).digest
SHOWN = (f"sha256:{DIGEST[7:19]} (SERVESCOPE_PROFILES/mine.json): preset keras-tf; classes Cat, Dog; output dense as "
         "sigmoid")


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "profiles"
    path.mkdir()
    return path


def test_the_run_view_history_and_exports_show_the_profile(page, fake_server, folder, tmp_path):
    server = fake_server(sigmoid_model())
    write_profile(folder, "mine.json", SIGMOID_PROFILE)
    app = page("classify", server.url, model="mine", SERVESCOPE_PROFILES=str(folder)).run()
    app.file_uploader[0].set_value([png_upload("grey.png", GREY), png_upload("white.png", (255, 255, 255))])
    app.run()
    app.button(key="classify_run").click().run()
    store, run_id = finished_run(app, tmp_path)
    assert not app.exception
    [described] = [t for t in texts(app.caption) if t.startswith("mine at ")]
    assert f"; model profile {SHOWN}; signature sha256:" in described
    assert "Preparation: stretched to 8×8 (bilinear); RGB; scale [-1, 1]; NHWC, DT_FLOAT sent (values -1 to 1)" in \
        texts(app.caption)
    stored = classify_runs.load_stored_run(store, run_id)
    exported = list(csv.DictReader(io.StringIO(classify_runs.csv_bytes(stored.rows, stored.class_names).decode())))
    assert [(row["source"], row["profile"]) for row in exported] == [("grey.png", DIGEST), ("white.png", DIGEST)]
    assert list(exported[0])[-5:] == ["version", "profile", "latency_ms", "error", "error_type"]
    app.switch_page("app_pages/history.py").run()
    assert not app.exception
    listed = app.dataframe[0].value.set_index("run")
    assert listed.at[run_id, "profile"] == SHOWN


def test_compare_shows_both_profiles_warns_when_they_differ_and_the_report_stamps_them(page, fake_server, folder,
                                                                                      tmp_path):
    server = fake_server(two_version_sigmoid())
    write_profile(folder, "mine.1.json", SIGMOID_PROFILE)
    write_profile(folder, "mine.2.json", PETS_VARIANT)
    database = str(tmp_path / "runs.db")
    app = page("compare", server.url, model="mine", SERVESCOPE_DB=database, SERVESCOPE_PROFILES=str(folder)).run()
    assert not app.exception
    before = frame_with(app, "differs").set_index(["part", "name"])
    assert before.loc[("profile", "digest")].tolist()[:2] == [f"sha256:{DIGEST[7:19]}", f"sha256:{PETS_DIGEST[7:19]}"]
    assert before.loc[("profile", "from")].tolist()[:2] == ["SERVESCOPE_PROFILES/mine.1.json",
                                                             "SERVESCOPE_PROFILES/mine.2.json"]
    assert before.loc[("profile", "digest"), "differs"]
    assert (f"The targets use different model profiles (version 1: sha256:{DIGEST[7:19]}; version 2: "
            f"sha256:{PETS_DIGEST[7:19]}): a difference between them may come from how the images were prepared or "
            "read, not from the model.") in texts(app.warning)
    comparison_id = start_comparison(app, png_upload("grey.png", GREY))
    store, run_ids = wait_for(database, comparison_id)
    app.run()
    assert not app.exception
    assert [store.get_run(r).profile.digest for r in run_ids] == [DIGEST, PETS_DIGEST]
    assert (f"A and B used different model profiles (A sha256:{DIGEST[7:19]}; B sha256:{PETS_DIGEST[7:19]}): a "
            "difference between them may come from how the images were prepared or the outputs read, not from the "
            "model.") in texts(app.warning)
    beside = frame_with(app, "differs").set_index(["part", "name"])
    assert beside.loc[("profile", "preparation")].tolist()[:2] == [
        "stretched to 8×8 (bilinear); RGB; scale [-1, 1]; NHWC, DT_FLOAT sent (values -1 to 1)",
        "centre crop size/(size+32) = 8/40 of the shorter side, resized to 8×8 (tf_bilinear); RGB; scale [-0.9922, "
        "1]; NHWC, DT_FLOAT sent (values -0.9922 to 1)"]
    [decision] = stored_comparisons.decisions(stored_comparisons.load_comparison(store, comparison_id))
    stamp = dict(stamp_rows(decision, decision_time := __import__("datetime").datetime(2026, 12, 7)))
    assert stamp["A"].endswith(f"; profile {DIGEST} (SERVESCOPE_PROFILES/mine.1.json: preset keras-tf; classes Cat, "
                               "Dog; output dense as sigmoid)")
    assert stamp["B"].endswith(f"; profile {PETS_DIGEST} (SERVESCOPE_PROFILES/mine.2.json: preset pets; classes Cat, "
                               "Dog; output dense as sigmoid)")
    assert f"profile {PETS_DIGEST} (SERVESCOPE_PROFILES/mine.2.json" in plain(report_markdown(
        decision, generated_at=decision_time))
    table = per_image_table(decision)
    assert (table["profile_a"].tolist(), table["profile_b"].tolist()) == ([DIGEST], [PETS_DIGEST])
