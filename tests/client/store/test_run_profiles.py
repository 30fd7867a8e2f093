"""Schema v7: every run keeps the model profile it used (client.store.records.RunProfile), on SQLite and PostgreSQL;
its rows and exports carry the profile's digest; a database from before v7 opens with its runs' profiles unknown."""
from __future__ import annotations

import csv
import io
import json

from client import ModelProfile
from client.store.database import RunProfile, open_store
from tests.client.store.test_store import V2_RUN, database_at, new_run, result

SIGMOID = {"class_names": ["Cat", "Dog"], "preset": "keras-tf", "output": {"name": "dense", "kind": "sigmoid"}}


def stored_profile(**fields) -> RunProfile:
    profile = ModelProfile.from_dict(SIGMOID)
    return RunProfile(profile.to_dict(), profile.digest, **{
        "origin": "SERVESCOPE_PROFILES/mobilenet.json", "assumed": False,
        "preparation": "stretched to 128×128 (bilinear); RGB; scale [-1, 1]; NHWC, DT_FLOAT sent (values -1 to 1)",
        "input_tensor": {"name": "mobilenetv2_1.00_128_input", "dtype": "DT_FLOAT", "shape": [-1, 128, 128, 3]},
        **fields})


def test_a_run_keeps_its_profile_and_its_rows_and_exports_carry_the_digest(any_store):
    store = any_store
    run = new_run(store, total=2)
    assert run.profile is None                                  # not known until the run's plan is made
    profile = stored_profile()
    store.update_progress(run.id, status="running", profile=profile)
    store.add_rows(run.id, [result(0, "cat/1.jpg", "cat", "cat"), result(1, "b.jpg", error="b.jpg: not an image")])
    again = store.get_run(run.id).profile
    assert again == profile
    assert (dict(again.data), dict(again.input_tensor)) == (SIGMOID, dict(profile.input_tensor))
    digest = ModelProfile.from_dict(SIGMOID).digest
    assert list(store.run_rows(run.id)["profile"]) == [digest, digest]
    exported = list(csv.DictReader(io.StringIO(store.export_runs([run.id], "csv").decode())))
    assert [row["profile"] for row in exported] == [digest, digest]
    other = new_run(store, total=1)
    store.add_rows(other.id, [result(0, "x.jpg")])
    both = list(csv.DictReader(io.StringIO(store.export_runs([run.id, other.id], "csv").decode())))
    assert [(row["run_id"], row["profile"]) for row in both] == [(run.id, digest), (run.id, digest), (other.id, "")]
    assert [row["profile"] for row in json.loads(store.export_runs([run.id], "json"))] == [digest, digest]


def test_an_assumed_preparation_is_kept_as_such(any_store):
    run = new_run(any_store, total=1)
    any_store.update_progress(run.id, profile=stored_profile(assumed=True, origin="no profile (the default)"))
    kept = any_store.get_run(run.id).profile
    assert (kept.assumed, kept.origin) == (True, "no profile (the default)")


def test_a_version_6_database_opens_with_its_runs_profiles_unknown(tmp_path):
    path = tmp_path / "v6.db"
    database_at(path, 6, V2_RUN.format(id="old", digest="NULL"))
    store = open_store(path)
    old = store.get_run("old")
    assert (old.status, old.profile) == ("complete", None)
    assert store.run_rows("old").empty
    store.update_progress("old", profile=stored_profile())    # the new columns work on the migrated file
    assert store.get_run("old").profile == stored_profile()
