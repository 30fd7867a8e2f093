"""What the model saw (issue 19, part 2): the tensor a run sent for one image, turned back into a picture beside the
original, with the dtype and value range actually sent; a BGR model's picture looks blue for a red upload."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from client import ModelProfile
from client.store.records import RunProfile
from dashboard.runs.seen import enlarged, what_the_model_saw
from tests.dashboard.profiles.fakes import GREY, SIGMOID_PROFILE, finished_run, sigmoid_model, write_profile
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import png_upload
from tests.support import png_bytes


def run_profile(data: dict, dtype: str, shape: list[int], assumed: bool = False) -> RunProfile:
    profile = ModelProfile.from_dict(data)
    return RunProfile(profile.to_dict(), profile.digest, origin="test", assumed=assumed,
                      input_tensor={"name": "images", "dtype": dtype, "shape": shape})


def test_a_bgr_model_sees_a_red_image_blue_and_the_values_sent_are_stated():
    seen = what_the_model_saw("red.png", png_bytes((255, 0, 0), size=(40, 30)),
                              run_profile({"preset": "keras-caffe"}, "DT_FLOAT", [-1, 8, 8, 3]))
    assert seen.original.size == (40, 30) and seen.seen.size == (8, 8)
    assert set(seen.seen.getdata()) == {(0, 0, 255)}       # blue: the channels are shown in the order sent
    assert (seen.dtype, seen.shape) == ("DT_FLOAT", (1, 8, 8, 3))
    assert (seen.low, seen.high) == (float(np.float32(-116.779)), float(np.float32(255 - 123.68)))
    assert seen.summary == ("DT_FLOAT [1, 8, 8, 3], values -116.8 to 131.3 (the preparation sends -123.7 to 151.1)")


def test_an_integer_nchw_input_is_shown_as_sent():
    picture = Image.new("RGB", (20, 10), (10, 20, 30))
    picture.paste((200, 100, 50), (0, 0, 10, 10))
    data = io.BytesIO()
    picture.save(data, format="PNG")
    profile = run_profile({"preset": "raw", "input": {"resample": "nearest"}}, "DT_UINT8", [-1, 3, 4, 4])
    seen = what_the_model_saw("half.png", data.getvalue(), profile)
    assert (seen.dtype, seen.shape, seen.low, seen.high) == ("DT_UINT8", (1, 3, 4, 4), 10.0, 200.0)
    assert np.array_equal(np.asarray(seen.seen), np.asarray(picture.resize((4, 4), Image.Resampling.NEAREST)))
    assert seen.summary == "DT_UINT8 [1, 3, 4, 4], values 10 to 200 (the preparation sends 0 to 255)"


def test_an_encoded_image_input_has_nothing_to_turn_back():
    assert what_the_model_saw("a.png", png_bytes((1, 2, 3)), run_profile({"preset": "pets"}, "DT_STRING", [-1])) is None


def test_a_small_tensor_is_enlarged_square_by_square():
    small = Image.new("RGB", (8, 4), (1, 2, 3))
    assert enlarged(small, 256).size == (256, 128)
    assert enlarged(Image.new("RGB", (300, 10)), 256).size == (300, 10)


@pytest.mark.parametrize("count", [1, 2])
@pytest.mark.parametrize("keep", [True, False], ids=["images kept", "not kept"])
def test_the_single_image_and_detail_views_show_what_the_model_saw(page, fake_server, tmp_path, count, keep):
    server = fake_server(sigmoid_model())
    folder = tmp_path / "profiles"
    folder.mkdir()
    write_profile(folder, "mine.json", SIGMOID_PROFILE)
    app = page("classify", server.url, model="mine", SERVESCOPE_PROFILES=str(folder)).run()
    app.file_uploader[0].set_value([png_upload(f"grey{i}.png", GREY) for i in range(count)])
    app.run()
    if not keep:
        app.checkbox(key="classify_dont_keep_images").check()
    app.button(key="classify_run").click().run()
    store, run_id = finished_run(app, tmp_path)
    if count > 1:   # a batch shows one image in the detail view, opened as a click on its row opens it
        from dashboard.evaluate import detail_view
        from dashboard.evaluate.detail import Queue
        app.session_state[detail_view._state("classify")] = Queue("the results table", ("grey0.png", "grey1.png"), 0)
        app.run()
    assert not app.exception
    value = float(np.float32(128) * np.float32(1 / 127.5) + np.float32(-1))
    assert [t.value for t in app.text if t.value.startswith("Sent: ")] == [
        f"Sent: DT_FLOAT [1, 8, 8, 3], values {value:.4g} to {value:.4g} (the preparation sends -1 to 1)"]
    assert "Preparation: stretched to 8×8 (bilinear); RGB; scale [-1, 1]; NHWC, DT_FLOAT sent (values -1 to 1)" in \
        texts(app.caption)
    captions = [image.proto.imgs[0].caption for image in app.get("image")]
    assert "As uploaded, upright: 8×8" in captions and \
        "As the model saw it: 8×8, channels in the order sent" in captions
    from dashboard.ui import state
    state.run_manager().release(run_id)   # the uploads are let go: kept images still show, else the page says so
    app.run()
    if keep:
        assert [t.value for t in app.text if t.value.startswith("Sent: ")] == [
            f"Sent: DT_FLOAT [1, 8, 8, 3], values {value:.4g} to {value:.4g} (the preparation sends -1 to 1)"]
        return
    assert [t.value for t in app.text if t.value.startswith("Sent: ")] == []
    assert ("The uploaded image is no longer held by this dashboard (it keeps a run's uploads for a while, for the "
            "browser that started it): classify it again to see what the model saw.") in texts(app.caption)


def test_an_encoded_image_model_saw_the_upload_itself(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    app.file_uploader[0].set_value([png_upload("red.png", (200, 10, 10))])
    app.run()
    app.button(key="classify_run").click().run()
    store, run_id = finished_run(app, tmp_path)
    assert ("The model received the encoded image and prepared it itself (its signature's input image_bytes is "
            "DT_STRING): it saw the upload as it is.") in texts(app.caption)
