"""The evaluation drawn compact (AppTest over synthetic frames): one rate format in the per-class table, the long
sections collapsed."""
from __future__ import annotations

import json

from tests.dashboard.evaluate.test_view import start, synthetic_frame, table_with, tiny_thumbnail


def test_every_rate_column_shows_a_percent_with_one_decimal():
    app = start(synthetic_frame())
    config = json.loads(table_with(app, "precision", "recall", "f1").proto.columns)
    assert {name: config[name]["type_config"].get("format") for name in ("precision", "recall", "f1")} == {
        "precision": "%.1f%%", "recall": "%.1f%%", "f1": "%.1f%%"}


def test_the_long_sections_start_collapsed_and_the_mistakes_keep_their_thumbnails():
    frame = synthetic_frame()
    app = start(frame, thumbnails={source: tiny_thumbnail() for source in frame["source"]})
    assert [(e.label, e.proto.expanded) for e in app.expander] == [
        ("Per class", False), ("Calibration", False), ("Mistakes (4)", False), ("Confidence", False),
        ("Review queue", False)]
    [gallery] = app.image
    assert len(gallery.proto.imgs) == 4
