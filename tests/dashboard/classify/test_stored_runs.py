"""Classify's runs that last, through AppTest on the fake TF Serving: a new session opens a run by `?run=`, cancel
keeps the finished rows, retry re-sends only the failed ones, queued runs say so, the sidebar shows the session's
running runs, a moved label is named, and "Compare with…" takes the run's images. Each test has its own
SERVESCOPE_DB (the `page` fixture)."""
from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from werkzeug.wrappers import Request

from tests.dashboard.classify.test_classify_page import (finish, press_classify, results_table, run_id_of, store_of,
                                                         upload)
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import BLUE, GREEN, RED, png_upload
from tests.support import BAD_MARK, fake_model_handler, fake_prediction, json_response, png_bytes, wait_until


@pytest.mark.slow
def test_the_run_survives_a_new_session_and_opens_by_its_link(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    upload(app, [png_upload("red.png", RED), png_upload("green.png", GREEN)])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    # A new session (a reload, a second tab, a colleague) on the same database opens it by ?run=.
    other = page("classify", fake_pets.url)
    other.query_params["run"] = run_id
    other.run()
    assert not other.exception
    assert texts(other.success) == [f"Run {run_id}: complete: 2 of 2 image(s) classified."]
    assert results_table(other).value["name"].tolist() == ["red.png", "green.png"]
    # Without a link, a new session finds the newest stored run.
    third = page("classify", fake_pets.url).run()
    assert run_id_of(third) == run_id
    assert f"Showing the newest stored run ({run_id}); classify images to start another." in texts(third.caption)


def slow_predict(delay: float, gate: threading.Event | None = None):
    def predict(request: Request):
        if gate is not None:
            gate.wait(timeout=30)
        time.sleep(delay)
        return fake_model_handler()(request)
    return predict


@pytest.mark.slow
def test_cancel_keeps_the_finished_rows(page, fake_server, tmp_path):
    server = fake_server(fake_model_handler(predict=slow_predict(0.3)))
    app = page("classify", server.url).run()
    upload(app, [png_upload(f"{i}.png", RED) for i in range(200)])
    run_id = press_classify(app)
    store = store_of(tmp_path)
    wait_until(lambda: store.get_run(run_id).done >= 32, timeout=60, what="two batches stored")
    app.run()
    assert "images" in app.get("progress")[0].proto.text  # the progress fragment, drawn on the page
    app.button(key="classify_cancel").click().run()
    run = finish(app, tmp_path, run_id)
    assert run.status == "cancelled" and 32 <= run.done < 200 and run.errors == 0
    assert len(store.run_rows(run_id)) == run.done
    assert texts(app.warning)[0] == (f"Run {run_id}: cancelled with {run.done} of 200 done: {run.done} of 200 "
                                     f"image(s) classified, {200 - run.done} not run.")


@pytest.mark.slow
def test_retry_sends_only_the_failed_rows(page, fake_server, tmp_path):
    down = {"yes": True}

    def predict(request: Request):
        instances = json.loads(request.get_data())["instances"]
        images = [base64.b64decode(item["image_bytes"]["b64"]) for item in instances]
        if down["yes"] and any(BAD_MARK.encode() in image for image in images):
            return json_response({"error": "backend warming up"}, 503)
        return json_response({"predictions": [fake_prediction(image) for image in images]})

    server = fake_server(fake_model_handler(predict=predict))
    app = page("classify", server.url).run()
    uploads = [png_upload(f"{i}.png", RED) for i in range(16)] + [
        (f"m{i}.png", png_bytes(BLUE, marked=True), "image/png") for i in range(3)]
    upload(app, uploads)
    run_id = press_classify(app)
    run = finish(app, tmp_path, run_id)
    assert (run.done, run.errors) == (19, 3)
    sent_before = len(server.bodies)
    down["yes"] = False
    app.button(key="classify_retry").click().run()
    run = finish(app, tmp_path, run_id)
    assert (run.status, run.done, run.errors) == ("complete", 19, 0)
    resent = [item for body in server.bodies[sent_before:] for item in body.get("instances", [])]
    assert len(resent) == 3   # only the three failed images, nothing else
    assert texts(app.success) == [f"Run {run_id}: complete: 19 of 19 image(s) classified."]


@pytest.mark.slow
def test_a_queued_run_says_so_and_the_sidebar_shows_the_sessions_running_runs(page, fake_server, tmp_path):
    gate = threading.Event()
    server = fake_server(fake_model_handler(predict=slow_predict(0.0, gate)))
    app = page("classify", server.url, SERVESCOPE_MAX_RUNS="1").run()
    try:
        gate.set()   # the page's one request for the model's classes goes through
        upload(app, [png_upload("a.png", RED)])
        gate.clear()   # the runs' requests wait
        first = press_classify(app)
        upload(app, [png_upload("b.png", GREEN)])
        second = press_classify(app)
        assert texts(app.info)[-1].startswith("Queued: waiting for a free worker")
        # The sidebar lists the session's other running run (the page itself shows the one it shows).
        assert [p.proto.text for p in app.sidebar.get("progress")] == [f"Run {first}: 0 / 1 images"]
        assert f"Run {second}: queued" not in [t.value for t in app.sidebar.text]
        app.switch_page("app_pages/models.py").run()   # another page: the runs go on, the sidebar shows both
        assert [p.proto.text for p in app.sidebar.get("progress")] == [f"Run {first}: 0 / 1 images"]
        assert f"Run {second}: queued" in [t.value for t in app.sidebar.text]
    finally:
        gate.set()
    finish(app, tmp_path, second)
    assert store_of(tmp_path).get_run(first).status == "complete"


@pytest.mark.slow
def test_compare_with_takes_the_runs_images_to_compare(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    upload(app, [png_upload("red.png", RED), png_upload("green.png", GREEN)])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    app.button(key="classify_compare").click().run()
    assert not app.exception
    assert app.title[0].value == "Compare versions"
    assert texts(app.info)[0].startswith(f"Comparing the 2 image(s) of run {run_id} (label:stable) with other targets")


@pytest.mark.slow
def test_a_run_whose_label_now_names_another_version_says_so(page, fake_server, tmp_path):
    from dashboard.ui import widgets

    served = {"version": 1}

    def handler(request: Request):
        return fake_model_handler(version=served["version"])(request)

    server = fake_server(handler)
    app = page("classify", server.url).run()
    upload(app, [png_upload("red.png", RED)])
    run_id = press_classify(app)
    run = finish(app, tmp_path, run_id)
    assert (run.target, run.version, dict(run.labels_at_start)) == ("label:stable", 1, {"stable": 1, "canary": 1})
    assert not [text for text in texts(app.warning) if "when this ran" in text]
    served["version"] = 2            # the operator moved the labels (and version 1 left)
    widgets.refresh_overview(server.url)
    app.run()
    assert "stable was version 1 when this ran; it is version 2 now" in texts(app.warning)
