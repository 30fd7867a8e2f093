"""The skew finder's candidate preparations: the presets, the grid, the session's own profile, and what each keeps
of the base profile."""
from __future__ import annotations

from client import ModelProfile
from client.profile import PRESETS
from dashboard.skew.candidates import candidates, kept_part


def test_without_a_profile_the_presets_then_the_grid_and_pets_is_the_current_one():
    found = candidates()
    assert [c.name for c in found] == [*PRESETS,
                                       "[-1, 1] · stretch · RGB", "[-1, 1] · stretch · BGR",
                                       "[-1, 1] · center_crop · RGB", "[-1, 1] · center_crop · BGR",
                                       "[0, 1] · stretch · RGB", "[0, 1] · stretch · BGR",
                                       "[0, 1] · center_crop · RGB", "[0, 1] · center_crop · BGR",
                                       "[0, 255] · stretch · RGB", "[0, 255] · stretch · BGR",
                                       "[0, 255] · center_crop · RGB", "[0, 255] · center_crop · BGR"]
    assert [c.name for c in found if c.current] == ["pets"]
    assert [c.origin for c in found].count("preset") == 6 and [c.origin for c in found].count("grid") == 12
    assert found[7].profile.to_dict() == {"preset": "raw", "input": {"scale": [-1, 1], "resize": "stretch",
                                                                      "channels": "BGR"}}
    assert found[1].profile.to_dict() == {"preset": "keras-tf"}
    assert candidates(grid=False) == found[:6]


def test_a_profile_that_prepares_comes_first_and_lends_its_kept_keys_to_every_candidate():
    base = ModelProfile.from_dict({"class_names": ["Cat", "Dog"], "preset": "keras-caffe", "signature_name": "s",
                                   "input": {"size": [96, 80], "resample": "bicubic", "scale": [0, 1],
                                             "channels": "BGR", "mean": [1, 2, 3], "resize": "letterbox"},
                                   "output": {"name": "dense", "kind": "sigmoid"}})
    found = candidates(base)
    assert (found[0].name, found[0].origin, found[0].current, found[0].profile) == ("current profile", "current",
                                                                                    True, base)
    assert [c.name for c in found if c.current] == ["current profile"]
    kept = {"class_names": ["Cat", "Dog"], "signature_name": "s", "output": {"name": "dense", "kind": "sigmoid"}}
    assert found[2].profile.to_dict() == {**kept, "input": {"size": [96, 80], "resample": "bicubic"},
                                          "preset": "keras-tf"}
    assert found[-1].profile.to_dict() == {**kept, "preset": "raw", "input": {
        "size": [96, 80], "resample": "bicubic", "scale": [0, 255], "resize": "center_crop", "channels": "BGR"}}
    assert len(found) == 19


def test_a_profile_that_only_names_classes_keeps_the_default_current(tmp_path):
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    (tmp_path / "p.json").write_text('{"class_names_file": "labels.txt", "output": {"kind": "logits"}}')
    base = ModelProfile.from_file(tmp_path / "p.json")
    assert kept_part(base) == {"class_names": ["cat", "dog"], "output": {"kind": "logits"}}
    found = candidates(base)
    assert len(found) == 18 and [c.name for c in found if c.current] == ["pets"]
    assert found[0].profile.to_dict() == {"class_names": ["cat", "dog"], "output": {"kind": "logits"},
                                          "preset": "pets"}
