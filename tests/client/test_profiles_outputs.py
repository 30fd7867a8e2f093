"""Output kinds: probabilities, logits (softmax, raw kept), sigmoid (one unit and two names, or k independent
scores), through the client against fake models that answer from the pixels they receive."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from client import ModelProfile, TFServingClient
from client.cli import main as cli_main
from tests.client.conftest import png_bytes
from tests.client.profile_fakes import pixel_model

RED, GREEN, BLUE = png_bytes((250, 5, 5)), png_bytes((5, 250, 5)), png_bytes((5, 5, 250))
IMAGES = [("red.png", RED), ("green.png", GREEN), ("blue.png", BLUE)]
PIXELS = {"x": ("DT_FLOAT", (-1, 8, 8, 3))}


def channel_means(pixels: np.ndarray) -> list[float]:
    return pixels.reshape(-1, 3).mean(axis=0).tolist()


def classify(server, profile: dict, images=IMAGES):
    with TFServingClient(server.url, "mine", retries=0, profile=ModelProfile.from_dict(profile)) as tfs:
        return tfs.classify(images)


def test_logits_get_a_softmax_and_the_raw_logits_stay_in_extras(fake_server):
    # The model's logits are the channel means on [0, 1] times 10: red -> about [9.6, 0.2, 0.2].
    server = fake_server(pixel_model(PIXELS, {"logits": ("DT_FLOAT", (-1, 3))},
                                     lambda p: {"logits": [10 * m for m in channel_means(p)]}))
    results = classify(server, {"class_names": ["red", "green", "blue"], "preset": "unit",
                                "output": {"kind": "logits"}})
    assert [r.label for r in results] == ["red", "green", "blue"]
    logits = np.array(results[0].extras["logits"])
    np.testing.assert_allclose(logits, [10 * 250 / 255, 10 * 5 / 255, 10 * 5 / 255], rtol=0, atol=1e-4)
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(list(results[0].probabilities.values()), expected, rtol=0, atol=1e-12)
    # Without the profile saying so, the same answer is refused as a distribution, with the hint.
    with TFServingClient(server.url, "mine", retries=0, labels=["red", "green", "blue"]) as tfs:
        refused = tfs.classify(IMAGES[:1])[0]
    assert refused.error_type == "InvalidProbabilitiesError"
    assert refused.error.endswith('; if it holds logits, set output.kind to "logits" in the model profile')


def test_one_sigmoid_unit_and_two_names_is_one_minus_s_and_s(fake_server):
    server = fake_server(pixel_model(PIXELS, {"dense": ("DT_FLOAT", (-1, 1))},
                                     lambda p: {"dense": [channel_means(p)[1]]}))  # "dog-ness" = green on [0, 1]
    results = classify(server, {"class_names": ["Cat", "Dog"], "preset": "unit"})
    assert [(r.label, round(r.probabilities["Dog"], 4)) for r in results] == [
        ("Cat", round(5 / 255, 4)), ("Dog", round(250 / 255, 4)), ("Cat", round(5 / 255, 4))]
    assert math.isclose(sum(results[1].probabilities.values()), 1.0)
    assert results[1].extras["dense"] == pytest.approx((250 / 255,), abs=1e-5)


def test_one_logit_and_two_names_gets_the_logistic_sigmoid(fake_server):
    server = fake_server(pixel_model(PIXELS, {"logit": ("DT_FLOAT", (-1, 1))}, lambda p: {"logit": [2.0]}))
    (result, *_) = classify(server, {"class_names": ["no", "yes"], "preset": "unit", "output": {"kind": "logits"}})
    assert result.label == "yes" and result.probabilities["yes"] == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_k_sigmoid_units_are_independent_scores(fake_server):
    server = fake_server(pixel_model(PIXELS, {"scores": ("DT_FLOAT", (-1, 3))},
                                     lambda p: {"scores": [min(1.0, 1.2 * m) for m in channel_means(p)]}))
    profile = {"class_names": ["warm", "leafy", "watery"], "preset": "unit", "output": {"kind": "sigmoid"}}
    with TFServingClient(server.url, "mine", retries=0, profile=ModelProfile.from_dict(profile)) as tfs:
        assert tfs.plan()[1].reading.distribution is False
        results = tfs.classify(IMAGES)
    assert [r.label for r in results] == ["warm", "leafy", "watery"]
    assert all(r.ok for r in results)  # 1.0 + 0.02 + 0.02 is not a distribution, and need not be
    assert results[0].probabilities["warm"] == 1.0


def test_sigmoid_scores_outside_0_1_are_that_images_error(fake_server):
    server = fake_server(pixel_model(PIXELS, {"dense": ("DT_FLOAT", (-1, 1))},
                                     lambda p: {"dense": [4.0 if channel_means(p)[0] > 0.5 else 0.25]}))
    results = classify(server, {"class_names": ["Cat", "Dog"], "preset": "unit", "output": {"kind": "sigmoid"}})
    assert [r.error_type for r in results] == ["InvalidProbabilitiesError", None, None]
    assert results[0].error == ("red.png: output 'dense' is not a sigmoid score in [0, 1]: 'Dog' is above 1 (4); if "
                                'it holds logits, set output.kind to "logits" in the model profile')


def test_logits_that_are_not_finite_are_that_images_error(fake_server):
    server = fake_server(pixel_model(PIXELS, {"logits": ("DT_FLOAT", (-1, 2))},
                                     lambda p: {"logits": [float("nan"), 0.0]}))
    (result, *_) = classify(server, {"class_names": ["a", "b"], "preset": "unit", "output": {"kind": "logits"}})
    assert (result.error_type, result.error) == ("InvalidProbabilitiesError",
                                                 "red.png: output 'logits' holds a logit that is not finite (nan)")


def test_the_cli_writes_the_profile_digest_and_says_what_it_assumed(fake_server, tmp_path, capsys):
    server = fake_server(pixel_model(PIXELS, {"dense": ("DT_FLOAT", (-1, 1))},
                                     lambda p: {"dense": [min(1.0, max(0.0, channel_means(p)[1]))]}))
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in IMAGES:
        (folder / name).write_bytes(data)
    profile_file = tmp_path / "mine.json"
    profile_file.write_text('{"class_names": ["Cat", "Dog"], "preset": "unit"}')
    out = tmp_path / "out.csv"
    assert cli_main(["classify", str(folder), "--url", server.url, "--model", "mine", "--profile", str(profile_file),
                     "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert ("preparation: stretched to 8×8 (bilinear); RGB; scale [0, 1]; NHWC, DT_FLOAT sent (values 0 to 1)\n"
            "output 'dense' read as sigmoid\n") in err
    digest = ModelProfile.from_file(profile_file).digest
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["top_class"], r["profile"]) for r in rows] == [("Cat", digest), ("Dog", digest), ("Cat", digest)]
    # --labels alone: a shorthand that says nothing about pixels, so the preparation is assumed, and said so.
    again = tmp_path / "again.csv"
    assert cli_main(["classify", str(folder), "--url", server.url, "--model", "mine", "--labels", "Cat,Dog",
                     "--out", str(again), "--no-progress"]) == 0
    assert ("preparation assumed: centre crop size/(size+32) = 8/40 of the shorter side, resized to 8×8 "
            "(tf_bilinear); RGB; scale [-0.9922, 1]; NHWC, DT_FLOAT sent (values -0.9922 to 1); set a profile with "
            "--profile FILE.json\n") in capsys.readouterr().err
    with open(again, newline="") as handle:
        assert {r["profile"] for r in csv.DictReader(handle)} == {
            ModelProfile.from_dict({"class_names": ["Cat", "Dog"]}).digest}
