"""Accuracy floors of both served versions on the labelled test photos (never used for training)."""
from __future__ import annotations

import pytest

from pets.evaluate import accuracy

# version -> (cat-vs-dog floor on cat+dog photos, floor for "other" photos called "other")
FLOORS = {1: (0.88, None), 2: (0.97, 0.90)}


@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(FLOORS))
def test_accuracy_floors(pets_build_dir, shared_images, version):
    result = accuracy(pets_build_dir / str(version), shared_images)
    cat_dog_floor, other_floor = FLOORS[version]
    assert result.counts["cat"] + result.counts["dog"] >= 40 and result.counts["other"] >= 10
    assert result.cat_dog >= cat_dog_floor, result.mistakes
    if other_floor is not None:
        assert result.per_class["other"] >= other_floor, result.mistakes
