"""The image detail view on Classify (AppTest, fake TF Serving): a click on a results row or a review-queue row opens
one image with its probabilities and truth, the correction control chooses nothing for the analyst and Save moves to
the next image of the queue, and where the model looked is asked through the serving API as one batch."""
from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from dashboard.evaluate import detail_view, occlusion
from dashboard.evaluate.detail import Queue
from tests.dashboard.classify.test_classify_page import finish, press_classify, store_of, upload
from tests.dashboard.readable import texts
from tests.support import png_bytes, zip_bytes

pytestmark = pytest.mark.slow
RED, GREEN, BLUE = (200, 10, 10), (10, 200, 10), (10, 10, 200)


def corner_png(corner, rest, size=(32, 24)) -> bytes:
    """`rest` everywhere but the top-left 4 × 3 pixels, which are `corner`: the fake model (it labels an image by
    its first pixel's colour) reads only that corner."""
    picture = Image.new("RGB", size, rest)
    picture.paste(corner, (0, 0, 4, 3))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def labelled(tmp_path, page, fake_pets):
    members = {"pets/cat/a.png": corner_png(RED, GREEN), "pets/cat/b.png": png_bytes(GREEN),
               "pets/dog/c.png": png_bytes(GREEN), "pets/other/d.png": png_bytes(RED)}
    app = page("classify", fake_pets.url).run()
    upload(app, [("pets.zip", zip_bytes(members), "application/zip")])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    return app, run_id


def results_table(app):
    [table] = [frame for frame in app.dataframe if "name" in frame.value.columns]
    return table


def select(app, table, row: int) -> None:
    app.session_state[table.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception


def test_a_results_row_opens_the_image_and_save_moves_to_the_next(page, fake_pets, tmp_path):
    app, run_id = labelled(tmp_path, page, fake_pets)
    table = results_table(app)
    names = table.value["name"].tolist()
    assert names == ["a.png", "b.png", "c.png", "d.png"]
    assert "correction" in table.value.columns and not app.data_editor   # corrections are made in the view
    select(app, table, 1)                                                  # b.png: green, truth cat
    queue = app.session_state[detail_view._state("classify")]
    assert queue == Queue("the results table", tuple(f"pets.zip/pets/{c}" for c in
                                                     ("cat/a.png", "cat/b.png", "dog/c.png", "other/d.png")), 1)
    assert "2 of 4 in the results table" in texts(app.caption)
    assert "True class: cat (detected at upload)" in texts(app.text)
    [choice] = [radio for radio in app.radio if radio.label.startswith("True class")]
    assert choice.value is None and choice.options == ["1: cat", "2: dog", "3: other"]   # nothing chosen for you
    [save] = [b for b in app.button if b.label == detail_view.SAVE_BUTTON]
    assert save.disabled
    choice.set_value("dog").run()
    [save] = [b for b in app.button if b.label == detail_view.SAVE_BUTTON]
    save.click().run()
    assert not app.exception, app.exception
    rows = store_of(tmp_path).run_rows(run_id).set_index("source")
    assert rows["correction"].dropna().to_dict() == {"pets.zip/pets/cat/b.png": "dog"}
    assert app.session_state[detail_view._state("classify")].index == 2         # on to c.png
    assert "3 of 4 in the results table" in texts(app.caption)
    assert "4 of 4 images have ground truth (1 corrected)" in texts(app.text)
    # The table says so too, and a corrected image says what was detected.
    assert results_table(app).value.set_index("name").at["b.png", "correction"] == "dog"
    app.session_state[detail_view._state("classify")] = Queue("the results table", queue.sources, 1)
    app.run()
    assert "True class: dog (corrected; detected: cat)" in texts(app.text)


def test_a_review_queue_row_opens_with_the_queue_as_its_order(page, fake_pets, tmp_path):
    app, _ = labelled(tmp_path, page, fake_pets)
    app.slider(key="classify_eval_threshold").set_value(1.0).run()
    [queue_table] = [frame for frame in app.dataframe if frame.key == "classify_eval_queue"]
    listed = queue_table.value["source"].tolist()
    select(app, queue_table, 0)
    queue = app.session_state[detail_view._state("classify")]
    assert (queue.name, queue.index, len(queue.sources)) == ("the review queue", 0, len(listed))
    assert f"1 of {len(listed)} in the review queue" in texts(app.caption)


def test_where_the_model_looked_is_one_batch_through_the_serving_api(page, fake_pets, tmp_path):
    app, run_id = labelled(tmp_path, page, fake_pets)
    select(app, results_table(app), 0)                                     # a.png: red corner, green elsewhere
    posts_before = len(fake_pets.bodies)
    [button] = [b for b in app.button if b.label == detail_view.MAP_BUTTON]
    button.click().run()
    assert not app.exception, app.exception
    [body] = fake_pets.bodies[posts_before:]                                 # one predict request ...
    assert len(body["instances"]) == occlusion.DEFAULT_GRID ** 2 + 1       # ... of the image and 64 masked copies
    sent = [Image.open(io.BytesIO(base64.b64decode(i["image_bytes"]["b64"]))) for i in body["instances"]]
    thumbnail = Image.open(io.BytesIO(store_of(tmp_path).run_thumbnails(run_id)[0]))
    assert {image.size for image in sent} == {thumbnail.size}               # computed on the stored thumbnail
    [caption] = [c for c in texts(app.caption) if c.startswith("1 request, 65 images, ")]
    width, height = thumbnail.size
    assert (f"computed on the {width} × {height} px image, 8 × 8 cells of about {width // 8} × {height // 8} px"
            in caption)
    maps = app.session_state["classify_maps"]
    [found] = maps.values()
    assert found.predicted_class == "cat" and occlusion.hottest_cells(found.drops, 1) == [(0, 0)]
    assert sorted(found.drops.ravel())[-2] == 0.0                           # only the first pixel's cell matters
    app.run()
    assert detail_view.MAP_BUTTON not in [b.label for b in app.button]     # drawn from the cache from now on
    assert len(fake_pets.bodies) == posts_before + 1
    assert len(app.get("image")) >= 2                                      # the thumbnail and the map
