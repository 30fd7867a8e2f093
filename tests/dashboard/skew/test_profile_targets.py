"""Compare's targets with a model profile (dashboard.targets.Target): the stored form round-trips, and the compare
run path classifies each side with its target's profile, so two profiles of one version get the full verdict."""
from __future__ import annotations

import pytest
from scipy.stats import binomtest

from client import ModelProfile
from client.store.database import open_store
from dashboard.compare import stored
from dashboard.compare.checks import TargetCheck, same_target_warnings
from dashboard.runs.manager import RunManager
from dashboard.server.profiles import ProfileChooser
from dashboard.targets import LATEST, Target
from tests.dashboard.skew.fakes import colour_model, colour_photos
from tests.support import wait_until

UNIT, RAW = ModelProfile.preset("unit"), ModelProfile.preset("raw")
FINAL = ("complete", "cancelled", "interrupted", "failed")


@pytest.mark.parametrize("target", [Target(version=2, profile=UNIT), Target(label="stable", profile=RAW),
                                    Target(profile=UNIT), Target(version=3), Target(label="canary"), LATEST])
def test_the_stored_form_round_trips_and_knows_the_profile_when_given(target):
    back = Target.parse(target.text)
    assert back == target and hash(back) == hash(target)
    assert back.profile is None and back.profile_digest == target.profile_digest
    assert Target.parse(target.text, [RAW, UNIT]).profile == target.profile


def test_the_stored_form_and_the_names_of_a_profiled_target():
    digest = UNIT.digest
    assert Target(version=2, profile=UNIT).text == f"version:2 profile:{digest}"
    assert Target(version=2, profile=UNIT).describe() == f"version 2, profile unit ({digest[:15]})"
    assert Target.parse(f"label:stable profile:{digest}").describe() == f"label stable, profile {digest[:15]}"
    assert Target(version=2, profile=UNIT) != Target(version=2, profile=RAW) != Target(version=2)
    assert Target(version=2, profile=UNIT).where == Target(version=2)
    with pytest.raises(ValueError, match="not the profile's"):
        Target(version=1, profile=UNIT, profile_digest=RAW.digest)


def test_two_profiles_of_one_version_are_not_called_noise_before_the_run():
    checks = [TargetCheck(Target(version=1, profile=UNIT), 1), TargetCheck(Target(version=1, profile=RAW), 1),
              TargetCheck(Target(label="stable"), 1), TargetCheck(Target(version=1), 1)]
    assert same_target_warnings(checks) == ["label stable and version 1 all reach version 1: any difference between "
                                            "them is noise, not a change of model."]


@pytest.mark.slow
def test_a_comparison_of_two_profiles_of_one_version_gets_the_full_verdict(fake_server, tmp_path):
    server = fake_server(colour_model())
    items, truth = colour_photos(per_class=4)
    items = [(name, lambda data=data: data) for name, data in items]
    store = open_store(str(tmp_path / "runs.db"))
    manager = RunManager(store, batch_size=4, concurrency=1)
    comparison = manager.submit_compare(server.url, "colours", items, [Target(version=1, profile=RAW),
                                                                       Target(version=1, profile=UNIT)], truth=truth)
    run_ids = [comparison.baseline_run_id, *comparison.other_run_ids]
    wait_until(lambda: all(store.get_run(r).status in FINAL and not manager.is_active(r) for r in run_ids),
               timeout=60, what="the comparison's runs")
    runs = [store.get_run(r) for r in run_ids]
    assert [r.target for r in runs] == [f"version:1 profile:{RAW.digest}", f"version:1 profile:{UNIT.digest}"]
    assert [r.status for r in runs] == ["complete", "complete"]
    loaded = stored.load_comparison(store, comparison.id)
    [decision] = stored.decisions(loaded)
    assert (decision.a, decision.b) == (f"version 1, profile {RAW.digest[:15]}",
                                        f"version 1, profile {UNIT.digest[:15]}")
    # raw (0..255) is out of the fake model's range: only the 4 blue photos right; unit gets all 12.
    assert (decision.truth.both_right, decision.truth.fixes, decision.truth.regressions) == (4, 8, 0)
    assert decision.truth.mcnemar_p == binomtest(0, 8, 0.5).pvalue == 2 * 0.5 ** 8
    assert decision.verdict.name == "BETTER"
    assert any("same model version with different model profiles" in w for w in decision.warnings)
    assert not any("noise" in w for w in decision.warnings)
    # Each side stored the profile its target carried, so any process retries it with that profile.
    assert [(r.profile.digest, r.profile.origin) for r in runs] == [
        (RAW.digest, f"the comparison's target (version 1, profile raw ({RAW.digest[:15]}))"),
        (UNIT.digest, f"the comparison's target (version 1, profile unit ({UNIT.digest[:15]}))")]
    assert ProfileChooser.stored("colours", runs[1].profile).choose(1).profile == UNIT
    with pytest.raises(ValueError, match="the profile itself is needed"):
        manager.submit_compare(server.url, "colours", items, [Target.parse(runs[0].target), Target(version=1)])
    store.close()
