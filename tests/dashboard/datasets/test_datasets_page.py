"""The Datasets page through AppTest (the app's entry script and navigation, each test with its own run store and
image store): every dataset with its figures, its versions and runs (links that open them), two stored runs on one
version compared afterwards without classifying again, export, delete with its own confirmation (by an operator:
who may delete is test_dataset_ownership.py's), and names full of markup shown as plain text."""
from __future__ import annotations

import pytest

from dashboard.datasets.listing import balance_text, megabytes
from dashboard.datasets.view import export_file_name
from tests.dashboard.datasets.support import OPERATOR_TOKEN, datasets_at, make_dataset, stored_run
from tests.dashboard.readable import plain, texts
from tests.dashboard.test_pages import BLUE, GREEN, RED
from tests.support import png_bytes

MARKUP = "<b>audit</b> [x](http://example.com) :red[yes]"
MEMBERS = {"a/cat/1.png": png_bytes(RED), "a/cat/2.png": png_bytes((201, 10, 10)), "a/dog/3.png": png_bytes(GREEN),
           "a/unsorted/4.png": png_bytes(BLUE)}


@pytest.fixture
def two_datasets(tmp_path):
    """MARKUP (version 1: 3 images with truth from their folders, cat 2 and dog 1; version 2 adds one without truth)
    with 2 runs on version 1 and one on version 2; and 'plain' (1 image, no truth, no run)."""
    make_dataset(tmp_path, MARKUP, {k: v for k, v in MEMBERS.items() if "unsorted" not in k})
    data = datasets_at(tmp_path)
    first = data.get(MARKUP)
    items = data.items(first)
    runs = [stored_run(data.store, first, items, ["cat", "dog", "dog"], target="label:stable", answered=1),
            stored_run(data.store, first, items, ["cat", "cat", "dog"], target="label:canary", answered=2)]
    second = data.add_images(MARKUP, [("a/unsorted/4.png", lambda: MEMBERS["a/unsorted/4.png"])],
                             truth="none").version
    runs.append(stored_run(data.store, second, data.items(second), ["cat", "cat", "dog", None], answered=2))
    make_dataset(tmp_path, "plain", {"x.png": png_bytes(BLUE)}, truth="none")
    return data, first, second, runs


def table_with(app, column: str):
    """The one table on the page with this column (AppTest's dataframes carry no key)."""
    [found] = [frame.value for frame in app.dataframe if column in frame.value.columns]
    return found


def open_page(page, url):
    app = page("datasets", url).run()
    assert not app.exception
    return app


def test_no_dataset_yet_says_how_to_make_one(page, fake_pets):
    app = open_page(page, fake_pets.url)
    assert app.title[0].value == "Datasets"
    assert texts(app.info) == ["No datasets yet. Upload images on Classify and save them as a dataset (below the "
                               "upload), or run `python -m client dataset create NAME PATH... --truth folders`."]


def test_every_dataset_is_listed_with_its_figures_versions_and_runs(page, fake_pets, two_datasets):
    data, first, second, runs = two_datasets
    app = open_page(page, fake_pets.url)
    table = table_with(app, "classes")
    size = sum(len(v) for v in MEMBERS.values())
    assert table.drop(columns=["updated"]).to_dict("records") == [
        {"name": MARKUP, "version": 2, "images": 4, "size": megabytes(size), "truth": 75.0,
         "classes": "cat 2, dog 1", "runs": 3},
        {"name": "plain", "version": 1, "images": 1, "size": f"{len(png_bytes(BLUE))} bytes", "truth": 0.0,
         "classes": "", "runs": 0}]
    assert app.selectbox(key="datasets_chosen").value == MARKUP
    assert plain(app.subheader[0].value) == f"{MARKUP}, version 2"
    assert {m.label: m.value for m in app.metric} == {"Images": "4", "Truth coverage": "75.0%", "Versions": "2",
                                                     "Runs": "3"}
    versions = table_with(app, "note")
    assert versions[["version", "images", "truth", "note", "runs"]].to_dict("records") == [
        {"version": 2, "images": 4, "truth": 3, "note": "added 1 image(s)", "runs": 1},
        {"version": 1, "images": 3, "truth": 3, "note": "created from 3 image(s)", "runs": 2}]
    listed = table_with(app, "open")
    assert listed["run"].tolist() == runs[::-1]   # newest first
    assert listed["open"].tolist() == [f"/classify?run={run_id}" for run_id in runs[::-1]]
    assert listed[["version", "target", "answered", "images", "errors"]].to_dict("records") == [
        {"version": 2, "target": "label:stable", "answered": "2", "images": 4, "errors": 1},
        {"version": 1, "target": "label:canary", "answered": "2", "images": 3, "errors": 0},
        {"version": 1, "target": "label:stable", "answered": "1", "images": 3, "errors": 0}]
    assert listed["accuracy"].round(6).tolist() == [100.0, 100.0, round(200 / 3, 6)]
    [newest] = [plain(link.proto.label) for link in app.get("page_link") if "Newest run" in link.proto.label]
    assert newest.startswith(f"Newest run: {runs[2]}: label:stable → version 2, ") and newest.endswith(", 100.0%")
    # Markup in the name is never rendered: every Markdown element carries it escaped.
    for element in [*app.subheader, *app.caption, *app.markdown]:
        assert "<b>" not in element.value.replace("\\<b\\>", "")


@pytest.mark.slow
def test_two_stored_runs_on_one_version_are_compared_without_classifying_again(page, fake_pets, two_datasets):
    data, first, second, runs = two_datasets
    app = open_page(page, fake_pets.url)
    assert app.selectbox(key="datasets_compare_version").options == ["1"]   # version 2 has one run only
    app.selectbox(key="datasets_compare_a").set_value(runs[0]).run()
    assert app.selectbox(key="datasets_compare_b").value == runs[1]
    app.button(key="datasets_compare").click().run()
    assert not app.exception
    comparison_id = app.query_params["comparison"]
    comparison_id = comparison_id if isinstance(comparison_id, str) else comparison_id[0]
    stored = data.store.get_comparison(comparison_id)
    assert (stored.baseline_run_id, stored.other_run_ids) == (runs[0], (runs[1],))
    assert app.title[0].value == "Compare versions"
    assert len(data.store.list_runs()) == 3   # nothing classified again: no new run
    shown = texts(app.caption)
    assert any(text.startswith(f"Comparison {comparison_id} of model pets, 3 image(s)") for text in shown)
    # Asked again, the same two runs open the same comparison.
    app.switch_page("app_pages/datasets.py").run()
    app.selectbox(key="datasets_compare_a").set_value(runs[0]).run()
    app.button(key="datasets_compare").click().run()
    again = app.query_params["comparison"]
    assert (again if isinstance(again, str) else again[0]) == comparison_id


def test_export_offers_every_format_and_a_safe_file_name(page, fake_pets, two_datasets):
    app = open_page(page, fake_pets.url)
    assert app.selectbox(key="datasets_export_version").options == ["2", "1"]
    assert app.radio(key="datasets_export_format").options == ["CSV", "JSONL", "PARQUET"]
    app.radio(key="datasets_export_format").set_value("jsonl").run()
    [button] = app.get("download_button")
    assert button.proto.label == "Download version 2 as JSONL"
    assert export_file_name(MARKUP, 2, "jsonl") == "dataset-b-audit-b-x-http-example.com-red-yes-v2.jsonl"
    assert export_file_name("../../etc/passwd", 1, "csv") == "dataset-etc-passwd-v1.csv"
    assert export_file_name("<>", 1, "csv") == "dataset-dataset-v1.csv"


def test_delete_needs_its_own_confirmation_and_runs_stay(page, fake_pets, two_datasets):
    data, first, second, runs = two_datasets
    # No browser made these datasets (a script did): an operator deletes them (test_dataset_ownership.py).
    app = page("datasets", fake_pets.url, SERVESCOPE_OPERATOR_TOKEN=OPERATOR_TOKEN).run()
    app.text_input(key="sidebar_operator_token").input(OPERATOR_TOKEN).run()
    app.button(key="datasets_delete").click().run()
    [warning] = texts(app.warning)
    assert warning == (f"Delete dataset '{MARKUP}' with its 2 version(s)? The 3 run(s) made on it stay (they say the "
                       "dataset is gone); its images that no other dataset or run uses are deleted from the image "
                       "store. This cannot be undone.")
    app.button(key="datasets_delete_no").click().run()
    assert data.find(first.dataset_id) is not None
    app.button(key="datasets_delete").click().run()
    app.button(key="datasets_delete_yes").click().run()
    assert not app.exception
    assert data.find(first.dataset_id) is None
    # 4.png has the bytes of 'plain''s x.png: that image stays.
    assert texts(app.info)[0] == (f"Deleted dataset '{MARKUP}' (2 version(s)); 3 image(s) no other dataset or run "
                                  "uses were deleted from the image store.")
    assert data.images.usage().images == 1 and data.sources(data.get("plain"))[0][1]() == png_bytes(BLUE)
    assert table_with(app, "classes")["name"].tolist() == ["plain"]
    assert [data.store.get_run(run_id).dataset_name for run_id in runs] == [MARKUP] * 3   # the runs stay


def test_balance_text_lists_the_most_common_first_and_counts_the_rest():
    assert balance_text({"cat": 1_520, "dog": 3}) == "cat 1,520, dog 3"
    many = {f"c{i}": 10 - i for i in range(8)}
    assert balance_text(many) == "c0 10, c1 9, c2 8, c3 7, c4 6, c5 5 and 2 more"
