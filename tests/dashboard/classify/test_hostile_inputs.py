"""Inputs that used to crash or mislead the Classify page (issue 21), through AppTest against the fake TF Serving:
a JSON truth file nested 10,000 deep, formula cells in a truth CSV, an oversized truth file (refused; a good one is
parsed once per upload, not on every rerun), a file name holding a NUL character (on SQLite and PostgreSQL), and
hidden characters (a right-to-left override, zero-width and control characters) in file names and truth values,
shown escaped everywhere on the page.
"""
from __future__ import annotations

import uuid

import pytest
from google.protobuf.json_format import MessageToDict
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

import dashboard.evaluate.truth_view as truth_view
from client.truth import MAX_TRUTH_BYTES
from client.store.database import open_store
from dashboard.ui import state
from tests.dashboard.classify.test_classify_page import frame_with, press_classify, run_id_of, upload
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import BLUE, GREEN, RED, assert_plain, markdown_bodies, png_upload
from tests.support import wait_until

DEEP = 10_000
NESTED_MESSAGE = "JSON nested too deep to read (a truth file is one object or one list of objects)"
HIDDEN = ("\u202e", "\u2066", "\u200b", "\x1b", "\ufeff")


def images():
    return [png_upload("cat.png", RED), png_upload("dog.png", GREEN), png_upload("other.png", BLUE)]


def set_truth_file(app, name: str, data: bytes) -> None:
    app.file_uploader(key="classify_truth_file_0").set_value([(name, data, "application/octet-stream")])
    app.run()
    assert not app.exception


def finish_in(app, database: str, run_id: str):
    store = open_store(database)
    wait_until(lambda: store.get_run(run_id).finished, timeout=60, what=f"run {run_id} to finish")
    assert state.run_manager().wait_thumbnails(run_id, 60)
    app.run()
    assert not app.exception
    return store.get_run(run_id), store.run_rows(run_id)


def page_strings(app) -> list[str]:
    """Every string on the page: each element's text fields (labels, options, Markdown, captions), and the cells and
    headers of its chart datasets and tables (Arrow): the columns a table draws (its column order), not the ones it
    carries undrawn (the results table keeps each row's stored name, the key its corrections are saved under)."""
    found: list[str] = []

    def strings(value) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                strings(item)
        elif isinstance(value, list):
            for item in value:
                strings(item)

    def frame_strings(frame, drawn=()) -> None:
        columns = [column for column in frame.columns if not drawn or column in drawn]
        strings([str(column) for column in columns])
        for column in columns:
            strings([value for value in frame[column].tolist() if isinstance(value, str)])

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            proto = getattr(child, "proto", None)
            if proto is not None:
                strings(MessageToDict(proto))   # bytes fields come as base64: no hidden character in them
                for dataset in getattr(proto, "datasets", ()):
                    frame_strings(convert_arrow_bytes_to_pandas_df(dataset.data.data))
            walk(child)

    walk(app._tree)
    for table in [*app.dataframe, *app.data_editor]:
        frame_strings(table.value, list(table.proto.column_order))
    return found


def hidden_on(app, characters) -> list[str]:
    """The strings on the page that hold any of `characters`."""
    return [text for text in page_strings(app) if any(char in text for char in characters)]


# -- truth files -------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("document", ["[" * DEEP + "]" * DEEP, '{"a": ' * DEEP + "1" + "}" * DEEP],
                         ids=["list", "object"])
def test_a_json_truth_file_nested_ten_thousand_deep_is_that_files_error_and_the_images_still_run(
        page, fake_pets, tmp_path, document):
    app = page("classify", fake_pets.url).run()
    upload(app, images())
    set_truth_file(app, "deep.json", document.encode())
    assert f"deep.json: {NESTED_MESSAGE}" in texts(app.error)
    assert not app.button(key="classify_run").disabled
    run_id = press_classify(app)
    run, _ = finish_in(app, str(tmp_path / "runs.db"), run_id)
    assert (run.status, run.done, run.errors) == ("complete", 3, 0)


def test_formula_cells_of_a_truth_csv_are_unmatched_values_shown_as_plain_text(page, fake_pets):
    app = page("classify", fake_pets.url).run()
    upload(app, images())
    set_truth_file(app, "truth.csv", b'file,label\ncat.png,"=HYPERLINK(""http://127.0.0.1:9/x"",""y"")"\n'
                                     b"dog.png,@SUM(1+1)\nother.png,+dog\n")
    assert texts(app.caption)[-1] == ("ground truth from the truth file: 0 classes, 0 of 3 images; 3 without a class: "
                                      "'=HYPERLINK(\"http://127.0.0.1:9/x\",\"y\")' (1), '@SUM(1+1)' (1), '+dog' (1)")
    assert texts(app.warning) == ["3 truth value(s) on 3 image(s) match no class: map them below or they stay "
                                  "outside the metrics."]
    [editor] = app.data_editor
    assert editor.value["value"].tolist() == ['=HYPERLINK("http://127.0.0.1:9/x","y")', "@SUM(1+1)", "+dog"]
    assert_plain(markdown_bodies(app))


def test_a_truth_file_over_the_limit_is_refused_naming_the_file_and_the_limit(page, fake_pets, monkeypatch):
    parsed: list[str] = []
    monkeypatch.setattr(truth_view, "_read_truth", lambda *args: parsed.append(args[0]))
    app = page("classify", fake_pets.url).run()
    upload(app, images())
    data = b"file,label\n" + b"cat.png,cat\n" * (MAX_TRUTH_BYTES // 12 + 1)
    set_truth_file(app, "huge.csv", data)
    assert f"huge.csv: {len(data):,} bytes, over the limit of 5,242,880 bytes (5 MiB) for a truth file" in \
        texts(app.error)
    assert parsed == []   # refused before it was hashed or parsed
    assert not app.button(key="classify_run").disabled


def test_a_truth_file_is_parsed_once_per_upload_not_on_every_rerun(page, fake_pets, monkeypatch):
    parsed: list[str] = []
    original = truth_view.read_truth_file
    monkeypatch.setattr(truth_view, "read_truth_file", lambda name, data: parsed.append(name) or original(name,
                                                                                                                data))
    app = page("classify", fake_pets.url).run()
    upload(app, images())
    unique = uuid.uuid4().hex   # content no earlier test cached
    set_truth_file(app, "truth.csv", f"file,label\ncat.png,cat\ndog.png,dog\n{unique}.png,cat\n".encode())
    assert texts(app.caption)[-1] == "ground truth from the truth file: 2 classes, 2 of 3 images"
    for method in ("file", "auto", "file"):
        app.selectbox(key="classify_truth_method").set_value(method).run()
        assert not app.exception
    app.run()
    assert texts(app.caption)[-1] == "ground truth from the truth file: 2 classes, 2 of 3 images"
    assert parsed == ["truth.csv"]
    set_truth_file(app, "truth.csv", f"file,label\ncat.png,cat\n{unique}.png,cat\n".encode())
    assert texts(app.caption)[-1] == "ground truth from the truth file: 1 class, 1 of 3 images"
    assert parsed == ["truth.csv", "truth.csv"]   # new content: read once more


def test_a_truth_file_named_with_a_nul_character_is_its_error_shown_escaped(page, fake_pets):
    app = page("classify", fake_pets.url).run()
    upload(app, images())
    set_truth_file(app, "bad\x00.json", b"{")
    assert texts(app.error) == ["bad\\x00.json: not valid JSON (Expecting property name enclosed in double quotes: "
                                "line 1 column 2 (char 1))"]
    assert hidden_on(app, "\x00") == [] and not app.button(key="classify_run").disabled


# -- file names ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_file_name_with_a_nul_character_is_that_files_error_and_the_others_are_classified(
        page, fake_pets, tmp_path, request, database):
    url = str(tmp_path / "runs.db") if database == "sqlite" else \
        request.getfixturevalue("postgres_server").create_database()
    app = page("classify", fake_pets.url, SERVESCOPE_DB=url).run()
    upload(app, [png_upload("a\x00b.png", RED), png_upload("dog.png", GREEN)])
    assert not app.button(key="classify_run").disabled
    run_id = press_classify(app)
    run, rows = finish_in(app, url, run_id)
    message = "a\\x00b.png: the file name contains a NUL character (shown as \\x00); not read"
    assert (run.status, run.done, run.errors) == ("complete", 2, 1)
    assert rows["source"].tolist() == ["a\\x00b.png", "dog.png"]
    assert rows["error"].tolist()[0] == message and rows["top_class"].tolist()[1] == "dog"
    assert message in "\n".join(texts(app.markdown))   # the run's list of failed files
    assert hidden_on(app, "\x00") == []


@pytest.mark.slow
def test_hidden_characters_in_names_and_truth_values_are_shown_escaped_everywhere(page, fake_pets, tmp_path):
    app = page("classify", fake_pets.url).run()
    names = ["report\u202efdp.png", "dog\u2066zero\u200bwidth.png", "esc\x1b[31mred.png"]
    upload(app, [png_upload(names[0], RED), png_upload(names[1], GREEN), png_upload(names[2], BLUE)])
    set_truth_file(app, "truth.csv", "file,label\nreport\u202efdp.png,\ufeffcat\u202e\n".encode())
    assert "'\\ufeffcat\\u202e' (1)" in texts(app.caption)[-1]
    [editor] = app.data_editor
    assert editor.value["value"].tolist() == ["\\ufeffcat\\u202e"]
    assert hidden_on(app, HIDDEN) == []
    run_id = press_classify(app)
    finish_in(app, str(tmp_path / "runs.db"), run_id)
    escaped = ["report\\u202efdp.png", "dog\\u2066zero\\u200bwidth.png", "esc\\x1b[31mred.png"]
    assert frame_with(app, "name")["name"].tolist() == escaped        # the results table
    [table] = [frame for frame in app.dataframe if "name" in frame.value.columns]
    app.session_state[table.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()                                                          # the detail view: its names, escaped
    assert [t.value for t in app.text if t.value in escaped] == [escaped[0], escaped[0]]
    assert hidden_on(app, HIDDEN) == []
    assert any("report\\u202efdp.png" in text for text in page_strings(app))
    assert run_id_of(app) == run_id
    rows = open_store(tmp_path / "runs.db").run_rows(run_id)
    assert rows["source"].tolist() == names   # stored as uploaded: only the screen escapes them
