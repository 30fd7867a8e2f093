"""Issue 19 section 3's acceptance: the skew finder finds the right preparation for each export convention of
tests/conventions.py, on the shared photos with their manifest labels.

tests/conventions.py's own models are seeded random networks (their accuracy on photos is chance under any
preparation), so the finder runs on their trained twins (tests/dashboard/skew/twins.py): the same signatures and
correct profiles around a classifier that knows cats from dogs. Each twin is mis-profiled: its correct profile
without the preset and the input keys the finder searches (what it keeps, dashboard.skew.candidates.kept_part).
The top-ranked preparation must be equivalent to the correct profile: the same pixels for the model's input, or
the same accuracy on the same photos."""
from __future__ import annotations

import csv
from dataclasses import replace

import pytest

from client import ModelProfile, TFServingClient
from dashboard.skew.candidates import Candidate, kept_part
from dashboard.skew.finder import find_preparation
from tests.dashboard.skew.twins import NAMES, imagenet_groups

pytestmark = pytest.mark.slow
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="module")
def labelled(shared_images) -> list[tuple[str, str]]:
    with open(shared_images / "manifest.csv", newline="") as handle:
        return [(str(shared_images / row["file"]), row["label"]) for row in csv.DictReader(handle)]


def truth_for(correct: ModelProfile, labelled) -> dict:
    """The manifest's cat/dog/other in the model's classes, as the conventions define them: cat, dog and other
    (pets' classes); Cat and Dog (the tutorial's, no other); ImageNet's cat and dog classes (imagenet_1001)."""
    names = correct.class_names
    if len(names) > 3:
        groups = imagenet_groups(names)
        return {path: groups[label] for path, label in labelled if label in groups}
    by_lower = {name.lower(): name for name in names}
    return {path: by_lower[label] for path, label in labelled if label in by_lower}


def recipe_of(profile: ModelProfile, url: str, name: str):
    with TFServingClient(url, name, profile=profile) as client:
        _, plan = client.plan()
    return replace(plan.recipe, preset_values_dropped=False)


@pytest.mark.parametrize("name", NAMES)
def test_the_top_ranked_preparation_is_the_right_one(twins, twins_url, labelled, name):
    correct = ModelProfile.from_file(twins[1][name])
    base = ModelProfile.from_dict(kept_part(correct))
    truth = truth_for(correct, labelled)
    paths = [path for path, _ in labelled]
    finding = find_preparation(twins_url, name, paths, base=base, truth=truth, batch_size=16, concurrency=2)
    reference = find_preparation(twins_url, name, paths, truth=truth, batch_size=16, concurrency=2,
                                 tries=[Candidate("correct profile", "preset", correct)])
    top, right = finding.ranked[0], reference.ranked[0]
    assert finding.labelled == len(truth) and top.score.labelled == right.score.labelled == len(truth)
    same_pixels = recipe_of(top.entry.candidate.profile, twins_url, name) == recipe_of(correct, twins_url, name)
    FIGURES[name] = (f"{name}: #1 {top.entry.names} {top.score.correct}/{top.score.labelled}; correct profile "
                     f"{right.score.correct}/{right.score.labelled}; same pixels: {same_pixels}; "
                     f"{len(finding.ranked)} classified, {len(finding.refused)} refused, {finding.requests} "
                     f"requests, {finding.seconds:.1f} s")
    print(FIGURES[name])
    assert same_pixels or top.score.correct == right.score.correct, FIGURES[name]
    # The right preparation is far from the worst: the finding separates it from the wrong ranges.
    assert right.score.accuracy.estimate >= 0.6
    assert finding.ranked[-1].score.accuracy.estimate < right.score.accuracy.estimate
