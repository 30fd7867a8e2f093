"""Classify's results table in pages (AppTest on the fake TF Serving): every row reachable, each page with its own
thumbnails, a correction on a later page stored for its own image, and the downloads still carry every row."""
from __future__ import annotations

import pytest

from dashboard.classify import view as classify_view
from tests.dashboard.classify.test_classify_page import (correct_in_view, finish, press_classify, results_table,
                                                         store_of, upload)
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import BLUE, GREEN, RED, png_upload


@pytest.mark.slow
def test_a_run_longer_than_a_page_is_shown_page_by_page(page, fake_pets, tmp_path, monkeypatch):
    monkeypatch.setattr(classify_view, "TABLE_PAGE_ROWS", 2)
    colours = [RED, GREEN, BLUE, RED, GREEN]
    app = page("classify", fake_pets.url).run()
    upload(app, [png_upload(f"{i}.png", colour) for i, colour in enumerate(colours)])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    assert texts(app.success) == [f"Run {run_id}: complete: 5 of 5 image(s) classified."]
    [pager] = [box for box in app.selectbox if box.label == "Page"]
    assert pager.options == ["rows 1–2 of 5", "rows 3–4 of 5", "rows 5–5 of 5"]
    seen = []
    for number in range(3):
        [pager] = [box for box in app.selectbox if box.label == "Page"]
        pager.set_value(number).run()
        assert not app.exception
        table = results_table(app).value
        seen += table["name"].tolist()
        assert all(uri.startswith("data:image/jpeg;base64,") for uri in table["thumbnail"])
    assert seen == [f"{i}.png" for i in range(5)]

    # A correction on the last page is stored for that page's image.
    [pager] = [box for box in app.selectbox if box.label == "Page"]
    pager.set_value(2).run()
    assert results_table(app).value["name"].tolist() == ["4.png"]
    correct_in_view(app, 0, "other")
    rows = store_of(tmp_path).run_rows(run_id)
    assert rows.set_index("source")["correction"].dropna().to_dict() == {"4.png": "other"}
    # The downloads are made when pressed; both are offered whatever page is shown.
    assert [button.proto.label for button in app.get("download_button")] == ["Download results (CSV)",
                                                                            "Download results (JSON)"]
