"""Profiles in the dashboard through AppTest (issue 19, part 2): the operator's SERVESCOPE_PROFILES folder, a bad file
named with its key on the page where it matters, the built-in pets profile, and the profile editor (JSON and form,
errors next to the field, this browser session only); a run uses the profile and stores it."""
from __future__ import annotations

import json

import pytest

from client import ModelProfile
from client.store.database import open_store
from dashboard.ui import state
from tests.dashboard.profiles.fakes import GREY, SIGMOID_PROFILE, dog_share, finished_run, sigmoid_model, write_profile
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import png_upload


@pytest.fixture
def sigmoid(fake_server):
    return fake_server(sigmoid_model())


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "profiles"
    path.mkdir()
    return path


def models_page(page, url, folder, model="mine"):
    return page("models", url, model=model, SERVESCOPE_PROFILES=str(folder), SERVESCOPE_WATCH_SECONDS="0")


def test_the_models_page_shows_the_folders_profile_and_names_a_bad_file_and_its_key(page, sigmoid, folder):
    write_profile(folder, "mine.json", SIGMOID_PROFILE)
    write_profile(folder, "broken.json", {"preset": "keras-torch", "input": {"std": [0.2, 0, 0.2]}})
    app = models_page(page, sigmoid.url, folder).run()
    assert not app.exception
    digest = ModelProfile.from_dict(SIGMOID_PROFILE).digest
    assert (f"In effect for mine: SERVESCOPE_PROFILES/mine.json (sha256:{digest[7:19]}): preset keras-tf; classes "
            "Cat, Dog; output dense as sigmoid") in [t.value for t in app.text]
    assert texts(app.sidebar.caption) == [f"Model profile: SERVESCOPE_PROFILES/mine.json (sha256:{digest[7:19]}): "
                                          "preset keras-tf; classes Cat, Dog; output dense as sigmoid"]
    listing = next(frame.value for frame in app.dataframe if "problem" in frame.value.columns)
    files = dict(zip(listing["file"], listing["problem"]))
    assert files["broken.json"].startswith("input.std: item 1 (0) does not fit; must be one number above 0 per "
                                           "channel")
    assert files["mine.json"] == ""
    app.session_state[state.MODEL] = "broken"
    app.run()
    assert any(t.startswith("The model profile for broken cannot be used: broken.json: input.std: item 1 (0) "
                            "does not fit") for t in texts(app.error))


def test_pets_has_a_built_in_profile(page, sigmoid, folder):
    app = models_page(page, sigmoid.url, folder, model="pets").run()
    digest = ModelProfile.preset("pets").digest
    assert f"In effect for pets: built-in profile of pets (sha256:{digest[7:19]}): preset pets" in [
        t.value for t in app.text]


def test_a_json_profile_is_checked_against_the_model_and_used_by_this_session_only(page, sigmoid, folder):
    app = models_page(page, sigmoid.url, folder).run()
    assert "In effect for mine: no profile (the default)" in [t.value for t in app.text]
    app.radio(key="models_profile_mode").set_value("JSON").run()
    editor = app.text_area(key="models_profile_json_mine")
    editor.set_value(json.dumps({**SIGMOID_PROFILE, "class_names": ["Cat", "Dog", "Bird"]})).run()
    app.button(key="models_profile_json_apply_mine").click().run()
    assert texts(app.error) == ["class_names: 3 class names, but output 'dense' (sigmoid, 1 units) scores 2 classes"]
    assert state.SESSION_PROFILES not in app.session_state   # refused: nothing is used
    app.text_area(key="models_profile_json_mine").set_value(json.dumps(SIGMOID_PROFILE)).run()
    app.button(key="models_profile_json_apply_mine").click().run()
    assert not app.exception and texts(app.error) == []
    digest = ModelProfile.from_dict(SIGMOID_PROFILE).digest
    assert texts(app.success)[-1] == (
        f"This session now uses this profile (sha256:{digest[7:19]}) for mine. Version 1 gets: stretched to 8×8 "
        "(bilinear); RGB; scale [-1, 1]; NHWC, DT_FLOAT sent (values -1 to 1); output 'dense' read as sigmoid; "
        "class names Cat, Dog.")
    assert app.session_state[state.SESSION_PROFILES] == {"mine": ModelProfile.from_dict(SIGMOID_PROFILE)}
    assert f"In effect for mine: this session (profile editor) (sha256:{digest[7:19]}): preset keras-tf; classes " \
           "Cat, Dog; output dense as sigmoid" in [t.value for t in app.text]
    app.button(key="models_profile_clear_mine").click().run()
    assert app.session_state[state.SESSION_PROFILES] == {}


def test_the_form_puts_each_error_next_to_its_field(page, sigmoid, folder):
    app = models_page(page, sigmoid.url, folder).run()
    form = "models_profile_form_mine"
    app.selectbox(key=f"{form}_preset").set_value("keras-tf")
    app.text_area(key=f"{form}_class_names").set_value("Cat\nDog")
    app.number_input(key=f"{form}_height").set_value(8)
    app.button[[b.proto.is_form_submitter for b in app.button].index(True)].click().run()   # width 0: not set
    assert texts(app.error) == ["input.size: item 1 (0) does not fit; must be [height, width]: two positive integers"]
    assert _index_of_error(app) - _index_of(app, f"{form}_width") in (1, 2)   # the slot right under Width
    app.number_input(key=f"{form}_width").set_value(8)
    app.selectbox(key=f"{form}_output_kind").set_value("logits")
    app.text_input(key=f"{form}_output_name").set_value("scores")
    app.button[[b.proto.is_form_submitter for b in app.button].index(True)].click().run()
    assert texts(app.error) == ["output.name: the signature has no such output; it has dense"]
    assert _index_of_error(app) - _index_of(app, f"{form}_output_name") in (1, 2)
    app.text_input(key=f"{form}_output_name").set_value("dense")
    app.button[[b.proto.is_form_submitter for b in app.button].index(True)].click().run()
    assert texts(app.error) == []
    assert app.session_state[state.SESSION_PROFILES]["mine"] == ModelProfile.from_dict(
        {"class_names": ["Cat", "Dog"], "preset": "keras-tf", "input": {"size": [8, 8]},
         "output": {"name": "dense", "kind": "logits"}})


def _flatten(app) -> list:
    found = []

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            found.append(child)
            walk(child)
    walk(app._tree)
    return found


def _index_of(app, key: str) -> int:
    return next(i for i, node in enumerate(_flatten(app)) if getattr(node, "key", None) == key)


def _index_of_error(app) -> int:
    return next(i for i, node in enumerate(_flatten(app)) if getattr(node, "type", "") == "error")


def test_a_bad_profile_file_is_named_on_classify_and_no_run_starts(page, sigmoid, folder):
    write_profile(folder, "mine.json", {**SIGMOID_PROFILE, "output": {"kind": "softmax"}})
    app = page("classify", sigmoid.url, model="mine", SERVESCOPE_PROFILES=str(folder)).run()
    assert texts(app.error) == [
        "The model profile cannot be used: mine.json: output.kind: must be one of probabilities, logits, sigmoid "
        "(value 'softmax'). Fix the file, or set a profile for this session on the Models page."]
    app.file_uploader[0].set_value([png_upload("grey.png", GREY)])
    app.run()
    assert app.button(key="classify_run").disabled


def test_a_run_uses_the_folders_profile_and_stores_it(page, sigmoid, folder, tmp_path):
    write_profile(folder, "mine.json", SIGMOID_PROFILE)
    app = page("classify", sigmoid.url, model="mine", SERVESCOPE_PROFILES=str(folder)).run()
    app.file_uploader[0].set_value([png_upload("grey.png", GREY), png_upload("black.png", (0, 0, 0))])
    app.run()
    app.button(key="classify_run").click().run()
    assert not app.exception
    store, run_id = finished_run(app, tmp_path)
    run = store.get_run(run_id)
    assert (run.status, run.class_names) == ("complete", ("Cat", "Dog"))
    profile = ModelProfile.from_dict(SIGMOID_PROFILE)
    assert (run.profile.digest, run.profile.origin, run.profile.assumed, dict(run.profile.data)) == (
        profile.digest, "SERVESCOPE_PROFILES/mine.json", False, SIGMOID_PROFILE)
    assert run.profile.preparation == "stretched to 8×8 (bilinear); RGB; scale [-1, 1]; NHWC, DT_FLOAT sent " \
                                      "(values -1 to 1)"
    assert dict(run.profile.input_tensor) == {"name": "images", "dtype": "DT_FLOAT", "shape": [-1, 8, 8, 3]}
    rows = store.run_rows(run_id).set_index("source")
    assert rows.loc["grey.png", "prob_Dog"] == pytest.approx(dog_share(128, "keras-tf"), abs=1e-12)
    assert rows.loc["black.png", "prob_Dog"] == 0.0 and rows.loc["black.png", "top_class"] == "Cat"
    assert set(rows["profile"]) == {profile.digest}


def test_a_profile_that_does_not_fit_the_model_fails_the_run_naming_where_it_came_from_and_the_key(
        sigmoid, folder, tmp_path):
    from dashboard.runs.manager import RunManager
    from dashboard.server.connection import open_client
    from dashboard.server.profiles import ProfileChooser, ProfileFolder
    write_profile(folder, "mine.json", {**SIGMOID_PROFILE, "input": {"size": [16, 16]}})
    store = open_store(tmp_path / "runs.db")
    manager = RunManager(store, client_factory=open_client)
    run_id = manager.submit_classify(sigmoid.url, "mine", [("grey.png", lambda: png_upload("g", GREY)[1])],
                                     profiles=ProfileChooser("mine", ProfileFolder(folder)))
    assert manager.wait(run_id, 60)
    run = store.get_run(run_id)
    assert (run.status, run.done, run.profile) == ("failed", 0, None)
    assert run.error == ("ProfileFileError: the model profile cannot be used: SERVESCOPE_PROFILES/mine.json: "
                         "input.size: the input [-1, 8, 8, 3] takes height 8, not 16")
    assert [path for method, path in sigmoid.calls if method == "POST"] == []   # nothing was sent


def test_a_retry_keeps_the_profile_the_run_stored_even_after_the_file_changed(fake_server, folder, tmp_path):
    """The first pass refuses the black image (a 400, as TF Serving answers a bad instance); the operator then
    changes the file; the retry re-sends it prepared as the run's stored profile says (keras-tf: P(Dog) = 0)."""
    import json as json_module

    import numpy as np

    from dashboard.runs.manager import RunManager
    from dashboard.server.connection import open_client
    from dashboard.server.profiles import ProfileChooser, ProfileFolder
    from tests.support import json_response
    model = sigmoid_model()
    refuse_black = {"on": True}

    def handler(request):
        if request.method == "POST" and refuse_black["on"]:
            instances = json_module.loads(request.get_data())["instances"]
            if any(np.asarray(item["images"]).max() < -0.99 for item in instances):
                return json_response({"error": "Invalid argument: a black instance"}, 400)
        return model(request)

    server = fake_server(handler)
    write_profile(folder, "mine.json", SIGMOID_PROFILE)
    store = open_store(tmp_path / "runs.db")
    manager = RunManager(store, client_factory=open_client)
    black = png_upload("black.png", (0, 0, 0))[1]
    grey = png_upload("grey.png", GREY)[1]
    run_id = manager.submit_classify(server.url, "mine", [("grey.png", lambda: grey), ("black.png", lambda: black)],
                                     profiles=ProfileChooser("mine", ProfileFolder(folder)))
    assert manager.wait(run_id, 60)
    assert (store.get_run(run_id).errors, store.get_run(run_id).profile.digest) == (
        1, ModelProfile.from_dict(SIGMOID_PROFILE).digest)
    write_profile(folder, "mine.json", {**SIGMOID_PROFILE, "preset": "pets"})
    refuse_black["on"] = False
    assert manager.retry_failed(run_id) == 1
    assert manager.wait(run_id, 60)
    run = store.get_run(run_id)
    assert (run.status, run.errors, run.profile.digest) == ("complete", 0,
                                                            ModelProfile.from_dict(SIGMOID_PROFILE).digest)
    rows = store.run_rows(run_id).set_index("source")
    assert rows.at["black.png", "prob_Dog"] == 0.0   # keras-tf's -1; the changed file (pets) would give 0.0039
