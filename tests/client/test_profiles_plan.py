"""A profile meets a signature: what the plan sends and reads, the refusals issue 19 fixed, and every profile
that does not fit its model refused naming the key before anything is sent (a fake server records requests)."""
from __future__ import annotations

import json

import pytest

from client import InvalidArgumentError, ModelProfile, SignatureError, TFServingClient
from client.cli import main as cli_main
from client.plan import ClassifyPlan
from tests.client.conftest import png_bytes
from tests.client.profile_fakes import BAD_PROFILES, pixel_model, posts, signature

TUTORIAL = signature({"mobilenetv2_1.00_128_input": ("DT_FLOAT", (-1, 128, 128, 3))},
                     {"dense": ("DT_FLOAT", (-1, 1))})
UINT8 = signature({"images": ("DT_UINT8", (-1, 96, 96, 3))}, {"probabilities": ("DT_FLOAT", (-1, 3))})
DYNAMIC = signature({"images": ("DT_FLOAT", (-1, -1, -1, 3))}, {"probabilities": ("DT_FLOAT", (-1, 3))})
NCHW = signature({"pixel_values": ("DT_FLOAT", (-1, 3, 64, 48))}, {"logits": ("DT_FLOAT", (-1, 3))})
GREY = signature({"x": ("DT_FLOAT", (-1, 28, 28, 1))}, {"probabilities": ("DT_FLOAT", (-1, 3))})
TWO_OUTPUTS = signature({"x": ("DT_FLOAT", (-1, 32, 32, 3))},
                        {"features": ("DT_FLOAT", (-1, 3)), "scores": ("DT_FLOAT", (-1, 3)),
                         "names": ("DT_STRING", (-1, 3))})
CATS = ["cat", "dog", "other"]


def plan(spec, data=None, labels=None) -> ClassifyPlan:
    return ClassifyPlan.from_signature(spec, labels=labels,
                                       profile=None if data is None else ModelProfile.from_dict(data))


def test_the_tutorial_signature_is_a_sigmoid_read_as_two_probabilities():
    """Refused before issue 19 ("no single float output of shape [-1, 2] for 2 labels")."""
    inferred = plan(TUTORIAL, labels=["Cat", "Dog"])
    assert (inferred.probabilities_output, inferred.output_kind, inferred.reading.distribution) == (
        "dense", "sigmoid", True)
    assert (inferred.pixel_size, inferred.profile_assumed) == ((128, 128), True)
    given = plan(TUTORIAL, {"class_names": ["Cat", "Dog"], "preset": "keras-tf",
                            "output": {"name": "dense", "kind": "sigmoid"}})
    assert (given.labels, given.profile_assumed) == (("Cat", "Dog"), False)
    assert given.preparation == ("stretched to 128×128 (bilinear); RGB; scale [-1, 1]; NHWC, DT_FLOAT sent "
                                 "(values -1 to 1)")
    prediction = given.read({"dense": [0.75]})
    assert (prediction.label, dict(prediction.probabilities), dict(prediction.extras), prediction.problem) == (
        "Dog", {"Cat": 0.25, "Dog": 0.75}, {"dense": (0.75,)}, None)


def test_uint8_and_dynamic_inputs_are_planned():
    """Both refused before issue 19 (only DT_FLOAT [-1, H, W, 3] inputs were)."""
    uint8 = plan(UINT8, {"class_names": CATS})
    assert (uint8.recipe.dtype, uint8.pixel_size, uint8.profile_assumed) == ("DT_UINT8", (96, 96), True)
    assert uint8.preparation == ("centre crop size/(size+32) = 96/128 of the shorter side, resized to 96×96 "
                                 "(tf_bilinear); RGB; 0..255 (the preset's scale and mean/std do not apply to integer "
                                 "inputs); NHWC, DT_UINT8 sent (values 0 to 255)")
    dynamic = plan(DYNAMIC, {"class_names": CATS, "preset": "unit", "input": {"size": [160, 120]}})
    assert dynamic.pixel_size == (160, 120)


def test_layouts_are_inferred_from_the_shape():
    nchw = plan(NCHW, {"class_names": CATS, "preset": "keras-torch", "output": {"kind": "logits"}})
    assert (nchw.recipe.layout, nchw.recipe.shape, nchw.output_kind) == ("NCHW", (3, 64, 48), "logits")
    assert nchw.preparation == ("stretched to 64×48 (bilinear); RGB; scale [0, 1]; mean [0.485, 0.456, 0.406]; "
                                "std [0.229, 0.224, 0.225]; NCHW, DT_FLOAT sent (values -2.118 to 2.64)")
    any_size = signature({"x": ("DT_FLOAT", (-1, 3, -1, -1))}, {"probabilities": ("DT_FLOAT", (-1, 3))})
    assert plan(any_size, {"class_names": CATS, "input": {"size": [8, 8]}}).recipe.shape == (3, 8, 8)
    assert plan(DYNAMIC, {"class_names": CATS, "input": {"size": [8, 8]}}).recipe.shape == (8, 8, 3)
    grey = plan(GREY, {"class_names": CATS, "preset": "unit"})
    assert (grey.recipe.channels, grey.recipe.shape) == ("L", (28, 28, 1))


def test_output_name_chooses_among_several_outputs():
    assert plan(TWO_OUTPUTS, {"class_names": CATS}).probabilities_output == "scores"  # the name says scores
    two_heads = signature({"x": ("DT_FLOAT", (-1, 32, 32, 3))},
                          {"features": ("DT_FLOAT", (-1, 3)), "head": ("DT_FLOAT", (-1, 3))})
    with pytest.raises(SignatureError) as caught:
        plan(two_heads, {"class_names": CATS})
    assert caught.value.error == (
        "signature 'serving_default' cannot classify images: no single float output of shape [-1, 3] for 3 class "
        "names holds the class scores (outputs: 'features' DT_FLOAT [-1,3], 'head' DT_FLOAT [-1,3]); name one with "
        "output.name in a model profile")
    chosen = plan(TWO_OUTPUTS, {"preset": "unit", "output": {"name": "features", "kind": "logits"}})
    assert (chosen.probabilities_output, chosen.labels_output, chosen.output_kind) == ("features", "names", "logits")
    prediction = chosen.read({"features": [0.0, 0.0, 0.0], "scores": [1, 0, 0], "names": ["a", "b", "c"]})
    assert (prediction.label, dict(prediction.probabilities)) == ("a", {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert dict(prediction.extras) == {"features": (0.0, 0.0, 0.0), "scores": (1, 0, 0)}


def test_the_plan_says_when_the_preparation_is_assumed():
    string_input = signature({"image_bytes": ("DT_STRING", (-1,))}, {"probabilities": ("DT_FLOAT", (-1, 3))})
    encoded = plan(string_input, labels=CATS)
    assert (encoded.recipe, encoded.profile_assumed) == (None, False)
    assert encoded.preparation == ("the encoded image is sent (the model decodes and prepares it; input settings "
                                   "do not apply)")
    assumed = plan(UINT8, labels=CATS)
    assert assumed.profile_assumed and assumed.profile.to_dict() == {"preset": "pets"}
    assert not plan(UINT8, {"class_names": CATS, "preset": "raw"}).profile_assumed


# -- profiles that do not fit their model: refused naming the key, before any predict --------------------------
NOT_FITTING = [
    (DYNAMIC, {"class_names": CATS}, "input.size",
     "is needed: the input [-1, -1, -1, 3] takes any height or width, so give [height, width]"),
    (UINT8, {"class_names": CATS, "input": {"size": [224, 224]}}, "input.size",
     "the input [-1, 96, 96, 3] takes height 96, not 224"),
    (UINT8, {"class_names": CATS, "input": {"scale": [0, 1]}}, "input.scale",
     "an integer input (DT_UINT8) takes the 0..255 values; only [0, 255] fits"),
    (UINT8, {"class_names": CATS, "input": {"mean": [1, 2, 3]}}, "input.mean",
     "an integer input (DT_UINT8) takes the 0..255 values; no mean/std applies"),
    (GREY, {"class_names": CATS, "preset": "keras-torch"}, "input.mean",
     "has 3 values (from preset keras-torch) for 1 channel"),
    (GREY, {"class_names": CATS, "input": {"channels": "RGB"}}, "input.channels",
     "does not fit the input's 1 channel ([-1, 28, 28, 1])"),
    (UINT8, {"class_names": CATS, "input": {"layout": "NCHW"}}, "input.layout",
     "does not fit the input shape [-1, 96, 96, 3] (no 1 or 3 channels there)"),
    (UINT8, {"class_names": ["cat", "dog"]}, "class_names",
     "2 class names, but output 'probabilities' (probabilities, 3 units) scores 3 classes"),
    (TUTORIAL, {"class_names": CATS, "output": {"kind": "sigmoid"}}, "class_names",
     "3 class names, but output 'dense' (sigmoid, 1 units) scores 2 classes"),
    (TWO_OUTPUTS, {"output": {"name": "logits"}}, "output.name",
     "the signature has no such output; it has features, names, scores"),
    (TWO_OUTPUTS, {"output": {"name": "names"}}, "output.name",
     "is DT_STRING [-1,3]; the output read must be a float of shape [-1, units]"),
]


@pytest.mark.parametrize("spec, data, field, reason", NOT_FITTING, ids=[f"{f}-{i}" for i, (_, _, f, _)
                                                                        in enumerate(NOT_FITTING)])
def test_a_profile_that_does_not_fit_is_refused_naming_the_key_and_nothing_is_sent(fake_server, spec, data, field,
                                                                                    reason):
    with pytest.raises(InvalidArgumentError) as caught:
        plan(spec, data)
    assert (caught.value.field, caught.value.reason) == (field, reason)
    inputs = {n: (s.dtype, s.shape) for n, s in spec.inputs.items()}
    outputs = {n: (s.dtype, s.shape) for n, s in spec.outputs.items()}
    server = fake_server(pixel_model(inputs, outputs, lambda pixels: {}))
    with TFServingClient(server.url, "mine", retries=0, profile=ModelProfile.from_dict(data)) as tfs:
        with pytest.raises(InvalidArgumentError) as through_client:
            tfs.classify([("a.png", png_bytes((1, 2, 3)))])
    assert (through_client.value.field, through_client.value.reason) == (field, reason)
    assert posts(server) == []


def test_names_from_a_file_are_named_as_the_file(tmp_path):
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    profile = ModelProfile.from_dict({"class_names_file": "labels.txt"}, base_dir=tmp_path)
    with pytest.raises(InvalidArgumentError) as caught:
        ClassifyPlan.from_signature(UINT8, profile=profile)
    assert caught.value.field == "class_names_file"


def test_int8_inputs_cannot_hold_pixels():
    int8 = signature({"x": ("DT_INT8", (-1, 8, 8, 3))}, {"probabilities": ("DT_FLOAT", (-1, 3))})
    with pytest.raises(SignatureError, match="input 'x' is DT_INT8 \\[-1,8,8,3\\]"):
        plan(int8, labels=CATS)


def test_shorthands_that_contradict_the_profile_are_refused_before_any_request(fake_server, tmp_path, capsys):
    server = fake_server(pixel_model({"x": ("DT_FLOAT", (-1, 8, 8, 3))}, {"probabilities": ("DT_FLOAT", (-1, 2))},
                                     lambda pixels: {}))
    profile = ModelProfile.from_dict({"class_names": ["cat", "dog"], "signature_name": "serving_default"})
    with pytest.raises(InvalidArgumentError) as caught:
        TFServingClient(server.url, "mine", labels=["dog", "cat"], profile=profile)
    assert (caught.value.field, caught.value.reason) == (
        "labels", "differ from the profile's class names; give them in one place")
    with TFServingClient(server.url, "mine", profile=profile) as tfs:
        with pytest.raises(InvalidArgumentError) as caught:
            tfs.classify([("a.png", png_bytes((1, 2, 3)))], signature_name="predict_images")
        assert caught.value.field == "signature_name"
        with pytest.raises(InvalidArgumentError) as caught:
            tfs.classify([("a.png", png_bytes((1, 2, 3)))], labels=["a", "b"])
        assert caught.value.field == "labels"
    assert server.calls == []
    path = tmp_path / "mine.json"
    path.write_text('{"class_names": ["cat", "dog"]}')
    image = tmp_path / "a.png"
    image.write_bytes(png_bytes((1, 2, 3)))
    code = cli_main(["classify", str(image), "--url", server.url, "--model", "mine", "--profile", str(path),
                     "--labels", "dog,cat", "--no-progress"])
    assert code == 2
    assert capsys.readouterr().err.strip() == ("error: labels ('dog', 'cat'): differ from the profile's class names; "
                                               "give them in one place")
    assert server.calls == []


def test_the_cli_names_the_profile_file_and_key(fake_server, tmp_path, capsys):
    server = fake_server(pixel_model({"x": ("DT_FLOAT", (-1, 8, 8, 3))}, {"probabilities": ("DT_FLOAT", (-1, 2))},
                                     lambda pixels: {}))
    path = tmp_path / "mine.json"
    path.write_text('{"class_names": ["cat", "dog"], "input": {"std": [0.5, 0, 0.5]}}')
    image = tmp_path / "a.png"
    image.write_bytes(png_bytes((1, 2, 3)))
    code = cli_main(["classify", str(image), "--url", server.url, "--model", "mine", "--profile", str(path),
                     "--no-progress"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --profile input.std [0.5, 0, 0.5]: item 1 (0) does not fit; must be one number above 0 per channel "
        f"(a std of 0 would divide by zero) (in {path})")
    path.write_text('{"class_names": ["cat", "dog"], "input": {"size": [9, 9]}}')
    assert cli_main(["classify", str(image), "--url", server.url, "--model", "mine", "--profile", str(path),
                     "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == "error: input.size [9, 9]: the input [-1, 8, 8, 3] takes height 8, not 9"
    assert posts(server) == []


@pytest.mark.parametrize("data, field, reason", BAD_PROFILES, ids=[f for _, f, _ in BAD_PROFILES])
def test_every_bad_profile_file_stops_the_cli_before_any_request(fake_server, tmp_path, capsys, data, field, reason):
    server = fake_server(pixel_model({"x": ("DT_FLOAT", (-1, 8, 8, 3))}, {"probabilities": ("DT_FLOAT", (-1, 2))},
                                     lambda pixels: {}))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    image = tmp_path / "a.png"
    image.write_bytes(png_bytes((1, 2, 3)))
    code = cli_main(["classify", str(image), "--url", server.url, "--model", "mine", "--profile", str(path),
                     "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: --profile {field} ") and err.rstrip().endswith(f"{reason} (in {path})")
    assert server.calls == []
