"""The skew finder's own logic against a fake TF Serving pixel model (tests/dashboard/skew/fakes.py): what it
sends, refuses, merges and how it ranks, with exact figures."""
from __future__ import annotations

import math

import pytest

from client import ModelProfile
from dashboard.skew.finder import choose_sample, find_preparation
from tests.dashboard.skew.fakes import colour_model, colour_photos


@pytest.fixture
def colours(fake_server):
    return fake_server(colour_model())


def test_the_unit_preparation_ranks_first_and_the_cost_is_counted(colours):
    items, truth = colour_photos(per_class=4)
    seen = []
    finding = find_preparation(colours.url, "colours", items, truth=truth, batch_size=16, concurrency=1,
                               on_progress=lambda done, total, name: seen.append((done, total)))
    names = [r.entry.names for r in finding.ranked]
    # unit and the grid's [0, 1] · stretch · RGB send the same pixels: classified once.
    assert names[0] == "unit (= [0, 1] · stretch · RGB)"
    assert names[1] == "[0, 1] · center_crop · RGB"
    best = finding.ranked[0].score
    assert (best.labelled, best.correct, best.errors) == (12, 12, 0)
    assert best.log_loss == pytest.approx(-math.log(200 / 260), rel=1e-6)
    # Every other preparation leaves [0, 1] or swaps red and blue: only the 4 blue (other) or 4 green photos right.
    assert [r.score.correct for r in finding.ranked[2:]] == [4] * 13
    assert [r.close_to_best for r in finding.ranked] == [True, True] + [False] * 13
    assert finding.ranked[2].p_vs_best == pytest.approx(2 * 0.5 ** 8)
    assert finding.refused == () and not finding.encoded_input
    assert finding.labelled == 12 and len(finding.sample) == 12
    assert finding.images_sent == 15 * 12 and colours.handler.predicts == 15
    # status + metadata once, then per preparation one predict (its client reuses the signature it planned with)
    assert finding.requests == len(colours.calls)
    assert [r.entry.current for r in finding.ranked].count(True) == 1
    assert finding.current.entry.candidate.name == "pets"
    assert seen[-1] == (15 * 12, 15 * 12)


def test_on_a_uint8_input_presets_merge_and_float_ranges_are_refused_with_the_reason(fake_server):
    server = fake_server(colour_model("DT_UINT8"))
    items, truth = colour_photos(per_class=1)
    finding = find_preparation(server.url, "colours", items, truth=truth)
    assert sorted(r.candidate.name for r in finding.refused) == sorted(
        f"[{scale}] · {resize} · {channels}" for scale in ("-1, 1", "0, 1")
        for resize in ("stretch", "center_crop") for channels in ("RGB", "BGR"))
    assert all("input.scale" in r.reason and "DT_UINT8" in r.reason for r in finding.refused)
    assert {r.entry.names for r in finding.ranked} == {
        "keras-tf (= keras-torch, unit, raw, [0, 255] · stretch · RGB)", "pets",
        "keras-caffe (= [0, 255] · stretch · BGR)", "[0, 255] · center_crop · RGB",
        "[0, 255] · center_crop · BGR"}
    assert finding.images_sent == 5 * 3


def test_a_base_profile_that_does_not_fit_is_refused_and_the_rest_go_on(colours):
    items, _ = colour_photos(per_class=1)
    base = ModelProfile.from_dict({"preset": "unit", "input": {"channels": "L"}})
    finding = find_preparation(colours.url, "colours", items, base=base)
    assert [(r.candidate.name, r.reason.split(" ")[0]) for r in finding.refused] == [("current profile",
                                                                                     "input.channels")]
    assert finding.current is None and not finding.with_truth
    # No truth: ranked by mean confidence. The in-range preparations answer 200/260 for each photo.
    assert finding.ranked[-1].score.confidence == pytest.approx(200 / 260)
    assert finding.ranked[0].score.confidence == pytest.approx(0.8)


def test_the_sample_is_drawn_from_the_labelled_images_seeded():
    items = [(f"img{i}", None) for i in range(10)]
    truth = {f"img{i}": "cat" for i in range(0, 10, 2)}
    assert [n for n, _ in choose_sample(items, truth, 3, seed=1)] == \
        [n for n, _ in choose_sample(items, truth, 3, seed=1)]
    assert {n for n, _ in choose_sample(items, truth, 3)} <= set(truth)
    assert [n for n, _ in choose_sample(items, truth, 100)] == ["img0", "img2", "img4", "img6", "img8"]
    assert len(choose_sample(items, None, 4)) == 4
    with pytest.raises(ValueError, match="at least one image"):
        choose_sample(items, None, 0)
