"""The dashboard's backend modules (no Streamlit): targets, errors, settings, charts."""
from __future__ import annotations

import re

import pytest

from client import (
    InvalidInputError,
    ModelNotFoundError,
    RequestTimeoutError,
    ServerUnavailableError,
    VersionNotAvailableError,
)
from dashboard import charts, config
from dashboard.server import explain as errors
from dashboard.targets import LATEST, Target, describe_option, target_options


def test_target_options_and_descriptions():
    labels = {"stable": 1, "canary": 2}
    options = target_options([2, 1], labels)
    assert options == [Target(label="stable"), Target(label="canary"), Target(version=1), Target(version=2), LATEST]
    assert [describe_option(t, labels) for t in options] == [
        "label stable → version 1", "label canary → version 2", "version 1", "version 2", "latest"]
    assert Target(version=3).kwargs == {"version": 3, "label": None}
    with pytest.raises(ValueError, match="version or a label"):
        Target(version=1, label="stable")


@pytest.mark.parametrize("exc_class, expected", [
    (ServerUnavailableError, "No TF Serving model server is reachable at http://h:1 (boom). Start one with "
                             "`make run`"),
    (RequestTimeoutError, "The model server at http://h:1 did not answer in time (boom)."),
    (ModelNotFoundError, "The server at http://h:1 has no model named 'pets' (boom)."),
    (VersionNotAvailableError, "Model 'pets' at http://h:1: that version or label is not available (boom)."),
    (InvalidInputError, "Model 'pets' at http://h:1 rejected the request as invalid: boom"),
])
def test_explain_names_the_url_model_and_server_text(exc_class, expected):
    message = errors.explain(exc_class("boom", method="GET", url="http://h:1/v1/models/pets"), "http://h:1", "pets")
    assert message.startswith(expected)


def test_labels_and_url_come_from_the_environment():
    environ = {"TF_SERVING_URL": "http://serving:8501/", "SERVESCOPE_MODEL": "flowers",
               "SERVESCOPE_LABELS": " canary, ,stable,canary"}
    assert (config.default_url(environ), config.default_model(environ), config.default_labels(environ)) == (
        "http://serving:8501", "flowers", ("canary", "stable"))
    assert config.configured_servers(environ) == (config.Server("serving:8501", "http://serving:8501"),)
    assert (config.default_url({}), config.default_labels({})) == ("http://127.0.0.1:8501", ("stable", "canary"))
    assert config.configured_servers({}) == (config.Server("127.0.0.1:8501", "http://127.0.0.1:8501"),)


def test_the_operators_server_list():
    environ = {"TF_SERVING_URL": "http://ignored:1", "SERVESCOPE_SERVERS": "prod=http://tfs:8501/, lab = https://lab:443"}
    assert config.configured_servers(environ) == (config.Server("prod", "http://tfs:8501"),
                                                  config.Server("lab", "https://lab:443"))
    assert not config.custom_url_allowed(environ)
    assert config.custom_url_allowed({"SERVESCOPE_ALLOW_CUSTOM_URL": "1"})
    for bad, message in (("prod", "'prod' is not name=url"), ("a=http://x,a=http://y", "the name 'a' is given twice"),
                         ("a=ftp://x", "'ftp://x' must start with http:// or https://"),
                         ("a=http://x/secret.txt?", "'http://x/secret.txt?' must not contain '?' or '#'")):
        with pytest.raises(config.FieldError, match=re.escape(message)) as caught:
            config.configured_servers({"SERVESCOPE_SERVERS": bad})
        assert caught.value.field.startswith("SERVESCOPE_SERVERS")


@pytest.mark.parametrize("text", ["", " ", "a/b", "..", ".hidden", "a b", "x" * 256, "naïve", "a?b", "%2e", "\x00"])
def test_names_that_cannot_go_into_a_url_path_are_refused_naming_the_field(text):
    with pytest.raises(config.FieldError, match="^Model name: ") as caught:
        config.check_name(text, "Model name")
    assert caught.value.field == "Model name"


def test_labels_are_checked_one_by_one():
    assert config.parse_labels("stable, canary ,, v2.1-rc_3") == ("stable", "canary", "v2.1-rc_3")
    with pytest.raises(config.FieldError, match=r"^Version labels: '\.\./x' contains '/'"):
        config.parse_labels("a,,b , ../x")


def test_charts_carry_the_data_in_class_order():
    spec = charts.probability_chart({"cat": 0.7, "dog": 0.2, "other": 0.1}).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert values == [{"class": "cat", "probability": 0.7}, {"class": "dog", "probability": 0.2},
                      {"class": "other", "probability": 0.1}]
    top5 = charts.top5_chart([("tabby", 0.5), ("tiger cat", 0.3)]).to_dict()
    assert next(iter(top5["datasets"].values()))[0] == {"imagenet_label": "tabby", "score": 0.5}


def test_the_top5_shows_every_bar_and_its_value_and_never_cuts_a_label():
    spec = charts.top5_chart([("black-and-tan coonhound", 0.95), ("bloodhound", 0.004), ("redbone", 0.0003),
                              ("kelpie", 0.0002), ("beagle", 0.00001)]).to_dict()
    bars, labels = spec["layer"]
    scale = bars["encoding"]["x"]["scale"]
    # On a log scale from 0.0001, a score of 0.0003 is a third of the way to 0.01: a visible bar, not a sliver.
    assert scale == {"type": "log", "domain": [charts.TOP5_FLOOR, 1], "clamp": True}
    assert labels["mark"]["type"] == "text" and labels["encoding"]["text"]["format"] == ".1%"
    axis = bars["encoding"]["y"]["axis"]
    assert axis["labelLimit"] == 0                                      # "black-and-tan coonhound" in full
