"""The promotion snippets are real ModelServerConfig text: parsed here with TF Serving's own protos."""
from __future__ import annotations

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from dashboard.compare.promotion import PromotionError, model_server_config, promotion_plan


def parse(text: str) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def only_config(text: str):
    [config] = parse(text).model_config_list.config
    return config


def test_promoting_canary_loads_first_then_moves_the_label_then_retires():
    plan = promotion_plan("pets", label="stable", to_version=2, versions=[1, 2], labels={"stable": 1, "canary": 2},
                          base_path="/models/pets")
    assert (plan.from_version, plan.to_version) == (1, 2)
    load, move, retire = plan.steps
    first = only_config(load.config)
    assert (first.name, first.base_path, first.model_platform) == ("pets", "/models/pets", "tensorflow")
    assert list(first.model_version_policy.specific.versions) == [1, 2]
    assert dict(first.version_labels) == {"stable": 1, "canary": 2}
    assert "AVAILABLE" in load.explanation and "--allow_version_labels_for_unavailable_models" in load.explanation
    second = only_config(move.config)
    assert list(second.model_version_policy.specific.versions) == [1, 2]
    assert dict(second.version_labels) == {"stable": 2, "canary": 2}
    assert move.title == "Move 'stable' to version 2" and "rolling back" in move.explanation
    third = only_config(retire.config)
    assert list(third.model_version_policy.specific.versions) == [2]
    assert dict(third.version_labels) == {"stable": 2, "canary": 2}
    text = plan.text()
    assert text.index("1. Load the new version") < text.index("2. Move 'stable'") < text.index("3. Later: retire")


def test_a_version_not_yet_served_is_added_to_the_policy_before_the_label_moves():
    plan = promotion_plan("pets", label="stable", to_version=3, versions=[1, 2], labels={"stable": 1, "canary": 2})
    load = only_config(plan.steps[0].config)
    assert list(load.model_version_policy.specific.versions) == [1, 2, 3]
    assert dict(load.version_labels) == {"stable": 1, "canary": 2}
    assert load.base_path == ""   # left out: the operator keeps the one the config has
    assert "# base_path: keep the base_path" in plan.steps[0].config


def test_text_is_escaped_and_bad_input_is_refused_by_name():
    config = only_config(model_server_config('pe"ts\\x', versions=[1], labels={}, base_path="/m/p"))
    assert config.name == 'pe"ts\\x'
    with pytest.raises(PromotionError, match="model name must be non-empty text without control characters"):
        model_server_config("pets\n}", versions=[1], labels={})
    with pytest.raises(PromotionError, match="label 'stable' points at version 4, which the config does not serve"):
        model_server_config("pets", versions=[1, 2], labels={"stable": 4})
    with pytest.raises(PromotionError, match="label 'st able'"):
        model_server_config("pets", versions=[1], labels={"st able": 1})
    with pytest.raises(PromotionError, match="to_version must be a positive integer version"):
        promotion_plan("pets", label="stable", to_version=0, versions=[1], labels={})
