"""The model profile's format: presets, overrides, digests, class-name files, and every bad profile refused with
an InvalidArgumentError naming its key."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from client import InvalidArgumentError, ModelProfile
from client.profile import DEFAULT_ASSUMPTION, DEFAULT_PROFILE, PRESETS
from client.profile_format import PRESET_CONVENTIONS, PROFILE_SCHEMA
from tests.client.profile_fakes import BAD_PROFILES

ROOT = Path(__file__).resolve().parents[2]
IMAGENET_1000 = ROOT / "pets" / "imagenet_labels.txt"  # 1000 WordNet synonym lists, classifier order


def inputs(profile: ModelProfile) -> dict:
    return profile.resolved()["input"]


def test_the_presets_and_what_they_set():
    assert PRESETS == ("pets", "keras-tf", "keras-torch", "keras-caffe", "unit", "raw")
    assert list(PRESET_CONVENTIONS) == list(PRESETS)
    common = {"size": None, "resize": "stretch", "crop_fraction": None, "resample": "bilinear", "channels": None,
              "layout": None, "mean": None, "std": None}
    assert inputs(ModelProfile.preset("pets")) == {**common, "resize": "center_crop", "resample": "tf_bilinear",
                                                   "scale": [-0.9921875, 1.0]}
    assert inputs(ModelProfile.preset("keras-tf")) == {**common, "scale": [-1, 1]}
    assert inputs(ModelProfile.preset("keras-torch")) == {**common, "scale": [0, 1], "mean": [0.485, 0.456, 0.406],
                                                          "std": [0.229, 0.224, 0.225]}
    assert inputs(ModelProfile.preset("keras-caffe")) == {**common, "channels": "BGR", "scale": [0, 255],
                                                          "mean": [103.939, 116.779, 123.68]}
    assert inputs(ModelProfile.preset("unit")) == {**common, "scale": [0, 1]}
    assert inputs(ModelProfile.preset("raw")) == {**common, "scale": [0, 255]}


def test_keys_after_the_preset_override_it_and_the_rest_stays():
    profile = ModelProfile.from_dict({"class_names": ["Cat", "Dog"], "preset": "keras-torch",
                                      "input": {"size": [128, 96], "std": [1, 1, 1]},
                                      "output": {"name": "dense", "kind": "sigmoid"}, "signature_name": "serve"})
    assert profile.resolved() == {
        "class_names": ["Cat", "Dog"], "signature_name": "serve",
        "input": {"size": [128, 96], "resize": "stretch", "crop_fraction": None, "resample": "bilinear",
                  "channels": None, "layout": None, "scale": [0, 1], "mean": [0.485, 0.456, 0.406],
                  "std": [1, 1, 1]},
        "output": {"name": "dense", "kind": "sigmoid"}}
    assert (profile.class_names, profile.signature_name, profile.output_name, profile.output_kind) == (
        ("Cat", "Dog"), "serve", "dense", "sigmoid")
    assert profile.to_dict() == {"class_names": ["Cat", "Dog"], "preset": "keras-torch",
                                 "input": {"size": [128, 96], "std": [1, 1, 1]},
                                 "output": {"name": "dense", "kind": "sigmoid"}, "signature_name": "serve"}


def test_the_digest_is_sha256_of_the_canonical_resolved_profile():
    profile = ModelProfile.from_dict({"preset": "unit", "input": {"channels": "BGR"}})
    canonical = json.dumps(profile.resolved(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert profile.digest == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    # Alike when they prepare and read alike, whatever way they say it; different otherwise.
    assert ModelProfile.from_dict({}).digest == ModelProfile.preset("pets").digest == DEFAULT_PROFILE.digest
    assert ModelProfile.from_dict({"preset": "keras-caffe"}) == ModelProfile.from_dict(
        {"preset": "raw", "input": {"channels": "BGR", "mean": [103.939, 116.779, 123.68]}})
    assert ModelProfile.preset("unit").digest != ModelProfile.preset("raw").digest
    assert ModelProfile.from_json(json.dumps(profile.to_dict())).digest == profile.digest


def test_the_default_assumption_is_the_pets_preset():
    assert DEFAULT_PROFILE.to_dict() == {"preset": "pets"}
    assert DEFAULT_ASSUMPTION.startswith("preset pets (ServeScope's demo model: centre crop of size/(size+32)")
    assert not ModelProfile.from_dict({"class_names": ["a", "b"]}).says_preparation
    assert ModelProfile.from_dict({"input": {"size": [9, 9]}}).says_preparation


def test_a_1001_line_imagenet_file_with_background_is_read_relative_to_the_profile(tmp_path):
    # The short names of TF Hub's ImageNetLabels.txt: the first synonym of each class, after "background".
    short = [line.split(",")[0].strip() for line in IMAGENET_1000.read_text().splitlines()]
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "labels.txt").write_text("background\n" + "\n".join(short) + "\n")
    (folder / "mobilenet.json").write_text(json.dumps({"class_names_file": "labels.txt", "preset": "unit",
                                                       "output": {"kind": "logits"}}))
    profile = ModelProfile.from_file(folder / "mobilenet.json")
    names = profile.class_names
    assert len(names) == 1001 and names[:3] == ("background", "tench", "goldfish")
    # ImageNet repeats two names (crane the bird and the machine, maillot twice): the repeat gets its index.
    assert [n for n in names if n.startswith(("crane", "maillot"))] == [
        "crane", "crane (518)", "maillot", "maillot (640)"]
    assert len(set(names)) == 1001
    assert profile.resolved()["class_names"] == list(names)
    assert profile.to_dict()["class_names_file"] == "labels.txt"
    standalone = profile.to_dict(inline_class_names=True)
    assert standalone == {"class_names": list(names), "preset": "unit", "output": {"kind": "logits"}}
    assert ModelProfile.from_dict(standalone).digest == profile.digest


def test_class_names_file_edits_change_the_digest(tmp_path):
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    before = ModelProfile.from_dict({"class_names_file": "labels.txt"}, base_dir=tmp_path)
    (tmp_path / "labels.txt").write_text("dog\ncat\n")
    after = ModelProfile.from_dict({"class_names_file": "labels.txt"}, base_dir=tmp_path)
    assert (before.class_names, after.class_names) == (("cat", "dog"), ("dog", "cat"))
    assert before.digest != after.digest


@pytest.mark.parametrize("data, field, reason", BAD_PROFILES, ids=[f for _, f, _ in BAD_PROFILES])
def test_every_bad_profile_names_its_key(data, field, reason):
    with pytest.raises(InvalidArgumentError) as caught:
        ModelProfile.from_dict(data)
    assert (caught.value.field, caught.value.reason) == (field, reason)


def test_bad_json_and_files_name_the_file(tmp_path):
    with pytest.raises(InvalidArgumentError) as caught:
        ModelProfile.from_json('{"preset": "unit",}')
    assert caught.value.field == "profile" and caught.value.reason.startswith("is not JSON (")
    path = tmp_path / "mine.json"
    path.write_text('{"input": {"std": [1, 0, 1]}}')
    with pytest.raises(InvalidArgumentError) as caught:
        ModelProfile.from_file(path)
    assert caught.value.field == "input.std"
    assert str(caught.value).endswith(f"(a std of 0 would divide by zero) (in {path})")
    with pytest.raises(InvalidArgumentError, match="cannot be read"):
        ModelProfile.from_file(tmp_path / "absent.json")


@pytest.mark.parametrize("text, reason", [
    ("", "holds no class names"),
    ("cat\n\ndog\n", "line 2 is empty"),
    (b"\xff\xfecat", "is not UTF-8 text"),
])
def test_bad_class_names_files_name_the_key_and_the_file(tmp_path, text, reason):
    path = tmp_path / "labels.txt"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InvalidArgumentError) as caught:
        ModelProfile.from_dict({"class_names_file": "labels.txt"}, base_dir=tmp_path)
    assert (caught.value.field, caught.value.reason) == ("class_names_file", f"{path} {reason}")
    with pytest.raises(InvalidArgumentError) as caught:
        ModelProfile.from_dict({"class_names_file": "nope.txt"}, base_dir=tmp_path)
    assert caught.value.reason == f"cannot read {tmp_path / 'nope.txt'} (No such file or directory)"


def test_unknown_preset_by_name():
    with pytest.raises(InvalidArgumentError) as caught:
        ModelProfile.preset("torch")
    assert caught.value.field == "preset"


def test_the_schema_is_json_schema_for_editors():
    assert PROFILE_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(PROFILE_SCHEMA["properties"]) == {"class_names", "class_names_file", "signature_name", "preset",
                                                 "input", "output"}
