"""A few pages end to end through AppTest against the real embedded server: the pets model with real photos,
and TF Serving's half_plus_two (a real model that cannot classify images). The fast page tests use the fake."""
from __future__ import annotations

import pytest

from tests.client.test_signature_errors import half_plus_two_url  # noqa: F401 - a fixture
from tests.dashboard.classify.test_classify_page import finish, press_classify, upload
from tests.dashboard.readable import texts
from tests.support import png_bytes

pytestmark = pytest.mark.slow


def test_models_page_lists_both_real_versions(page, pets_server_url):
    app = page("models", pets_server_url).run()
    assert not app.exception and not app.error
    assert app.dataframe[0].value[["version", "state", "labels"]].to_dict("records") == [
        {"version": "1", "state": "AVAILABLE", "labels": "stable"},   # text: int64 versions are shown whole
        {"version": "2", "state": "AVAILABLE", "labels": "canary"}]
    assert len(app.table) == 4  # two signatures per version
    # Newest version first: version 2 (224 px), then version 1 (128 px).
    assert [t.value.loc[("input", "images")].tolist() for t in (app.table[0], app.table[2])] == [
        ["DT_FLOAT", "[-1, 224, 224, 3]"], ["DT_FLOAT", "[-1, 128, 128, 3]"]]


def test_half_plus_two_gives_a_typed_error_on_classify(page, half_plus_two_url, tmp_path):
    """TF Serving's half_plus_two (a real model on the embedded server) cannot classify images: Classify says so
    before the run and the run fails with the typed error, nothing sent to predict. (Compare: test_compare_page.)"""
    app = page("classify", half_plus_two_url, model="half_plus_two").run()
    upload(app, [("red.png", png_bytes((200, 10, 10)), "image/png")])
    assert not app.exception
    [error, *_] = texts(app.error)
    assert error.startswith(f"Model 'half_plus_two' at {half_plus_two_url} cannot be used to classify images: ")
    assert "'x'" in error
    run = finish(app, tmp_path, press_classify(app))
    assert run.status == "failed" and "'x'" in run.error
