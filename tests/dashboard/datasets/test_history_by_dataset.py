"""History by dataset, through the app's History page (AppTest, the test's own stores): a dataset column that says
when a run's dataset is gone, and trends of the runs on one chosen dataset version per model version (accuracy
with its Wilson interval, latency of the runs measured alone, class mix) instead of across unrelated images."""
from __future__ import annotations

import math

import pandas as pd

from dashboard.history.datasets import dataset_trend_frame, image_sets
from tests.dashboard.datasets.support import datasets_at, make_dataset, stored_run
from tests.dashboard.test_pages import RED
from tests.support import png_bytes

MEMBERS = {f"audit/cat/{i}.png": png_bytes((200, 10 + i, 10)) for i in range(4)}
MEMBERS.update({f"audit/dog/{i}.png": png_bytes((10, 200, 10 + i)) for i in range(4)})


def wilson(successes: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval from its textbook formula."""
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)


def history_runs(tmp_path):
    """audit@1: v1 (stable) right on 6 of 8, latency 10 ms; v2 (canary) right on 8 of 8, 30 ms; a compare side of
    v2 at 900 ms (it ran beside another). 'gone': one run, then the dataset deleted. One upload run."""
    version = make_dataset(tmp_path, "audit", MEMBERS)
    data = datasets_at(tmp_path)
    items = data.items(version)
    truth = [item.truth for item in items]
    v1 = stored_run(data.store, version, items, ["dog", "dog", *truth[2:]], answered=1, latency_ms=10.0)
    v2 = stored_run(data.store, version, items, truth, target="label:canary", answered=2, latency_ms=30.0)
    side = stored_run(data.store, version, items, truth, target="label:canary", answered=2, latency_ms=900.0,
                      kind="compare")
    gone = make_dataset(tmp_path, "gone", {"x/cat/a.png": png_bytes(RED)})
    on_gone = stored_run(data.store, gone, data.items(gone), ["cat"])
    data.delete("gone")
    upload = data.store.create_run(kind="classify", url="http://model", model="pets", target="latest", total=1)
    data.store.finish_run(upload.id, "complete")
    return data, version, {"v1": v1, "v2": v2, "side": side, "gone": on_gone, "upload": upload.id}


def test_the_dataset_column_names_the_version_and_says_when_it_is_gone(page, fake_pets, tmp_path):
    data, version, runs = history_runs(tmp_path)
    app = page("history", fake_pets.url).run()
    assert not app.exception
    [table] = [frame.value for frame in app.dataframe if "dataset" in frame.value.columns]
    cells = dict(zip(table["run"], table["dataset"]))
    assert cells[runs["v1"]] == cells[runs["v2"]] == cells[runs["side"]] == "audit@1"
    assert cells[runs["gone"]] == "gone@1 (deleted)"
    assert cells[runs["upload"]] == ""


def test_trends_on_one_dataset_version_with_intervals_and_latency_measured_alone(page, fake_pets, tmp_path):
    data, version, runs = history_runs(tmp_path)
    app = page("history", fake_pets.url).run()
    app.toggle(key="history_stored_trends").set_value(True).run()
    assert not app.exception
    picker = app.selectbox(key="history_stored_trend_images")
    assert picker.options == ["audit@1: 3 run(s)", "gone@1 (deleted): 1 run(s)",
                              "every run shown (their images may differ: not comparable)"]
    assert picker.value == (version.dataset_id, 1)   # the set with the most runs first
    [trend] = [frame.value for frame in app.dataframe if "low" in frame.value.columns]
    assert trend["run"].tolist() == [runs["v1"], runs["v2"], runs["side"]]
    assert trend["version"].tolist() == [1, 2, 2]
    assert trend["accuracy"].tolist() == [0.75, 1.0, 1.0]
    low, high = wilson(6, 8)
    assert math.isclose(trend.at[0, "low"], low) and math.isclose(trend.at[0, "high"], high)
    assert math.isclose(trend.at[1, "low"], wilson(8, 8)[0])
    assert trend.at[1, "high"] == 1.0
    # The comparison side's 900 ms (it ran beside another side) is not a latency of version 2 alone.
    assert trend["latency_p50_ms"].tolist()[:2] == [10.0, 30.0] and pd.isna(trend.at[2, "latency_p50_ms"])
    assert len(app.get("vega_lite_chart")) == 3   # accuracy, latency, class mix
    picker.select_index(2).run()   # every run shown: the charts across image sets, as before
    assert not [frame for frame in app.dataframe if "low" in frame.value.columns]


def test_image_sets_leave_out_uploads_and_unfinished_runs(tmp_path):
    data, version, runs = history_runs(tmp_path)
    running = data.store.create_run(kind="classify", url="u", model="pets", target="latest", total=1, dataset=version)
    shown = data.store.list_runs()
    assert running.id in {s.run.id for s in shown}
    sets = image_sets(shown, existing={version.dataset_id})
    assert list(sets.values()) == ["audit@1: 3 run(s)", "gone@1 (deleted): 1 run(s)"]
    on_audit = [s for s in shown if s.run.dataset_id == version.dataset_id and s.run.finished]
    frame = dataset_trend_frame(on_audit, {})
    assert frame["latency_p50_ms"].isna().all()   # no rows read: no latency made up
    assert frame["judged"].tolist() == [8, 8, 8] and frame["correct"].tolist() == [6, 8, 8]
