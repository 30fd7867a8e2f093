"""The operator's SERVESCOPE_PROFILES folder and which profile a run picks (dashboard.server.profiles), and the
editor's checks (dashboard.server.profile_form). Plain Python: no page, no server."""
from __future__ import annotations

import json
import os

import pytest

from client import InvalidArgumentError, ModelProfile
from dashboard.server import profile_form
from dashboard.server.profiles import (BUILT_IN, NO_PROFILE, SESSION_ORIGIN, ProfileChooser, ProfileFileError,
                                       ProfileFolder, configured_folder, describe_profile, short_digest)

SIGMOID = {"class_names": ["Cat", "Dog"], "preset": "keras-tf", "output": {"name": "dense", "kind": "sigmoid"}}


def write(folder, name: str, data) -> None:
    (folder / name).write_text(data if isinstance(data, str) else json.dumps(data))


def touch_later(path) -> None:
    """Move the file's modification time on (a rewrite within one clock tick must still be seen)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_model_file_and_a_version_file_each_apply_where_they_should(tmp_path):
    write(tmp_path, "mobilenet.json", SIGMOID)
    write(tmp_path, "mobilenet.2.json", {**SIGMOID, "preset": "unit"})
    write(tmp_path, "labels.txt", "a\nb\n")   # not a profile: never read as one
    chooser = ProfileChooser("mobilenet", ProfileFolder(tmp_path))
    assert chooser.depends_on_version
    first, second, unknown = chooser.choose(1), chooser.choose(2), chooser.choose(None)
    assert (first.origin, second.origin, unknown.origin) == (
        "SERVESCOPE_PROFILES/mobilenet.json", "SERVESCOPE_PROFILES/mobilenet.2.json",
        "SERVESCOPE_PROFILES/mobilenet.json")
    assert first.profile == ModelProfile.from_dict(SIGMOID)
    assert second.profile == ModelProfile.from_dict({**SIGMOID, "preset": "unit"})
    assert sorted(chooser.catalog.profiles) == ["mobilenet.2.json", "mobilenet.json"]
    assert not ProfileChooser("other", ProfileFolder(tmp_path)).depends_on_version


def test_the_session_profile_wins_then_the_folder_then_the_built_in_one(tmp_path):
    write(tmp_path, "pets.json", {"preset": "raw"})
    own = ModelProfile.from_dict({"preset": "unit"})
    assert ProfileChooser("pets", ProfileFolder(tmp_path), own).choose(1) == \
        ProfileChooser("pets", None, own).choose(1)
    assert ProfileChooser("pets", ProfileFolder(tmp_path), own).choose(1).origin == SESSION_ORIGIN
    assert ProfileChooser("pets", ProfileFolder(tmp_path)).choose(1).profile == ModelProfile.preset("raw")
    built_in = ProfileChooser("pets").choose(1)
    assert (built_in.origin, built_in.profile) == ("built-in profile of pets", BUILT_IN["pets"])
    assert BUILT_IN["pets"] == ModelProfile.preset("pets")
    assert ProfileChooser("mine").choose(3) == NO_PROFILE and NO_PROFILE.profile is None


def test_a_bad_file_is_a_problem_naming_the_file_and_the_key_and_refuses_the_run(tmp_path):
    write(tmp_path, "mine.json", {"preset": "keras-torch", "input": {"std": [0.2, 0, 0.2]}})
    write(tmp_path, "broken.json", "{not json")
    write(tmp_path, "extra.json", {"class_names": ["a", "b"], "colour": "RGB"})
    catalog = ProfileFolder(tmp_path).catalog()
    assert catalog.problems["mine.json"].text == (
        "mine.json: input.std: item 1 (0) does not fit; must be one number above 0 per channel (a std of 0 would "
        "divide by zero) (value [0.2, 0, 0.2])")
    assert catalog.problems["broken.json"].field == "profile"
    assert catalog.problems["broken.json"].reason.startswith("is not JSON (")
    assert catalog.problems["extra.json"].text.startswith("extra.json: colour: unknown key; the keys here are")
    choice = ProfileChooser("mine", ProfileFolder(tmp_path)).choose(1)
    assert choice.profile is None and choice.problem == catalog.problems["mine.json"]
    with pytest.raises(ProfileFileError, match=r"^the model profile cannot be used: mine\.json: input\.std: "):
        choice.checked()


def test_the_folder_is_read_again_when_a_file_changes_and_not_otherwise(tmp_path, monkeypatch):
    path = tmp_path / "mine.json"
    write(tmp_path, "mine.json", {"preset": "unit", "class_names": ["a", "b"]})
    folder = ProfileFolder(tmp_path)
    first = folder.catalog()
    assert folder.catalog() is first                      # nothing changed: not read again
    write(tmp_path, "mine.json", {"preset": "raw", "class_names": ["a", "b"]})
    touch_later(path)
    assert folder.catalog().profiles["mine.json"] == ModelProfile.from_dict({"preset": "raw",
                                                                             "class_names": ["a", "b"]})
    write(tmp_path, "mine.json", {"preset": "raw", "input": {"std": [0]}})
    touch_later(path)
    assert "mine.json" in folder.catalog().problems       # a file broken on the fly: a problem, not an exception
    path.unlink()
    assert folder.catalog().profiles == {} and folder.catalog().problems == {}


def test_a_class_names_file_is_read_relative_to_the_folder_and_followed_for_changes(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("background\ncat\ndog\n")
    write(tmp_path, "net.json", {"class_names_file": "labels.txt", "preset": "unit"})
    folder = ProfileFolder(tmp_path)
    assert folder.catalog().profiles["net.json"].class_names == ("background", "cat", "dog")
    labels.write_text("cat\ndog\n")
    touch_later(labels)
    assert folder.catalog().profiles["net.json"].class_names == ("cat", "dog")


def test_a_setting_that_names_no_folder_refuses_runs_saying_so(tmp_path):
    missing = tmp_path / "nowhere"
    choice = ProfileChooser("pets", ProfileFolder(missing)).choose(1)
    assert choice.problem.text == f"SERVESCOPE_PROFILES: SERVESCOPE_PROFILES: {missing} is not a folder"
    assert configured_folder({"SERVESCOPE_PROFILES": str(tmp_path)}) == tmp_path
    assert configured_folder({}) is None and configured_folder({"SERVESCOPE_PROFILES": " "}) is None


def test_a_retry_keeps_the_profile_the_run_stored():
    from client.store.records import RunProfile
    stored = RunProfile({"preset": "keras-tf", "class_names": ["Cat", "Dog"]}, "sha256:x", origin="this session")
    again = ProfileChooser.stored("mine", stored).choose(7)
    assert (again.origin, again.profile) == ("this session", ModelProfile.from_dict(dict(stored.data)))
    assumed = RunProfile({"preset": "pets"}, "sha256:y", origin="no profile (the default)", assumed=True)
    assert ProfileChooser.stored("mine", assumed).choose(7) == NO_PROFILE


def test_describing_a_profile_and_its_digest():
    assert describe_profile(SIGMOID) == "preset keras-tf; classes Cat, Dog; output dense as sigmoid"
    assert describe_profile({"input": {"size": [160, 120], "scale": [0, 1.5]}, "class_names": list("abcdef")}) == (
        "preset pets (default); input size [160, 120], scale [0, 1.5]; classes a, b, c, d, … (6 in all)")
    assert describe_profile({"class_names_file": "labels.txt", "output": {"kind": "logits"}}) == (
        "preset pets (default); classes from labels.txt; output as logits")
    assert short_digest("sha256:" + "0123456789abcdef" * 4) == "sha256:0123456789ab"
    assert short_digest(None) == ""


def test_the_editor_form_round_trips_a_profile_and_keeps_what_it_has_no_field_for():
    given = {"class_names": ["Cat", "Dog"], "preset": "keras-torch",
             "input": {"size": [128, 96], "resize": "center_crop", "crop_fraction": 0.9, "mean": [0.5, 0.5, 0.5]},
             "output": {"name": "dense", "kind": "sigmoid"}}
    values = profile_form.form_values(given)
    assert values == profile_form.FormValues("keras-torch", "Cat\nDog", 128, 96, "center_crop", "", "", "", "dense",
                                             "sigmoid")
    assert profile_form.profile_data(values, keep=given) == given
    assert profile_form.profile_data(profile_form.FormValues()) == {}


def test_a_session_profile_reads_no_file_and_names_the_bad_key():
    with pytest.raises(InvalidArgumentError) as refused:
        profile_form.session_profile_from_json('{"class_names_file": "/etc/passwd"}')
    assert refused.value.field == "class_names_file"
    with pytest.raises(InvalidArgumentError) as bad:
        profile_form.session_profile_from_json('{"preset": "keras-tf", "input": {"scale": [1, -1]}}')
    assert (bad.value.field, bad.value.reason) == ("input.scale", "lo must be below hi")
    with pytest.raises(InvalidArgumentError) as not_json:
        profile_form.session_profile_from_json("{")
    assert not_json.value.field == "profile" and not_json.value.reason.startswith("is not JSON (")
    assert profile_form.session_profile_from_json(json.dumps(SIGMOID)) == ModelProfile.from_dict(SIGMOID)
