"""Each page through Streamlit's AppTest against the fake TF Serving (tests/support.py): milliseconds per test.

The fake labels a solid-colour PNG by its dominant channel (red cat, green dog, blue other). The same pages
against the real embedded server with real photos are in test_pages_live.py; Classify's own tests are in
test_classify_page.py.
"""
from __future__ import annotations

import pytest

from dashboard.ui import state
from tests.dashboard.readable import texts
from tests.support import fake_model_handler, json_response, png_bytes

RED, GREEN, BLUE = (200, 10, 10), (10, 200, 10), (10, 10, 200)


EMPTY = "No stored runs yet: classify or compare images first; every run is kept here."


def png_upload(name: str, colour) -> tuple[str, bytes, str]:
    return name, png_bytes(colour), "image/png"


def test_home_reports_a_reachable_server_and_lists_the_pages(page, fake_pets):
    app = page("home", fake_pets.url).run()
    assert not app.exception
    assert texts(app.success) == [f"Connected to {fake_pets.url}: model 'pets' has 1 available version(s): 1."]
    assert [m.value for m in app.metric] == ["1", "1", "stable→1, canary→1"]
    # One configured server: named in the sidebar as plain text, nothing to type or pick.
    assert [t.value for t in app.sidebar.text] == [f"127.0.0.1:{fake_pets.port}: {fake_pets.url}"]
    assert not app.sidebar.selectbox
    assert [link.proto.page for link in app.get("page_link")] == [
        "classify", "compare", "skew", "models", "history", "datasets"]  # resolved by st.navigation to URL paths


def test_home_says_no_server_is_reachable_and_how_to_start_one(page, unreachable_url):
    app = page("home", unreachable_url).run()
    assert not app.exception
    [error] = texts(app.error)
    assert error.startswith(f"No TF Serving model server is reachable at {unreachable_url}")
    assert "`make run`" in error and "python -m serving --model_config_file=pets/models.config" in error


def test_every_page_opens_through_the_navigation(page, fake_pets):
    for name, title in (("classify", "Classify"), ("compare", "Compare versions"), ("models", "Models"),
                        ("history", "History"), ("datasets", "Datasets")):
        app = page(name, fake_pets.url).run()
        assert not app.exception, name
        assert app.title[0].value == title


def test_the_sidebar_picks_among_the_operators_servers(page, fake_server):
    first, second = fake_server(fake_model_handler(version=1)), fake_server(fake_model_handler(version=7))
    app = page("home", None, SERVESCOPE_SERVERS=f"first={first.url}, second={second.url}").run()
    picker = app.sidebar.selectbox(key=state.SERVER)
    assert picker.options == [f"first ({first.url})", f"second ({second.url})"]
    assert len(app.sidebar.text_input) == 2  # model name and labels: no URL to type
    assert "has 1 available version(s): 1." in texts(app.success)[0]
    picker.select("second").run()
    assert texts(app.success) == [f"Connected to {second.url}: model 'pets' has 1 available version(s): 7."]
    assert second.calls and not app.exception


def test_a_free_text_url_only_when_the_operator_allows_it(page, fake_pets, fake_server):
    other = fake_server(fake_model_handler(version=3))
    app = page("home", fake_pets.url).run()
    assert len(app.sidebar.text_input) == 2 and not app.sidebar.selectbox  # no URL field, nothing to pick
    app = page("home", fake_pets.url, SERVESCOPE_ALLOW_CUSTOM_URL="1").run()
    app.sidebar.selectbox(key=state.SERVER).select(state.CUSTOM).run()
    app.sidebar.text_input(key=state.CUSTOM_URL).input(other.url).run()
    assert texts(app.success) == [f"Connected to {other.url}: model 'pets' has 1 available version(s): 3."]
    # A URL with a query (the server-side request forgery of issue 12) is refused before any request.
    calls_before = len(other.calls)
    app.sidebar.text_input(key=state.CUSTOM_URL).input(f"{other.url}/secret.txt?").run()
    assert not app.exception and len(other.calls) == calls_before
    [error] = texts(app.error)
    assert error.startswith(f"TF Serving URL: '{other.url}/secret.txt?' must not contain '?' or '#'")


GARBAGE = ["a,,b , ../x", "../../etc/passwd", "", " ", "x" * 5000, "naïve/ünïcode", "a b", "<script>alert(1)</script>",
           "![b](http://127.0.0.1:9/beacon.png)", "%2e%2e", ".", "stable\ncanary", "\x00", "☃" * 50]


@pytest.mark.slow
def test_garbage_in_every_sidebar_field_gives_a_typed_error_on_every_page(page, fake_pets):
    for name in ("home", "classify", "compare", "models", "history"):
        app = page(name, fake_pets.url, SERVESCOPE_ALLOW_CUSTOM_URL="1").run()
        app.sidebar.selectbox(key=state.SERVER).select(state.CUSTOM).run()
        for key, field in ((state.CUSTOM_URL, "TF Serving URL"), (state.MODEL, "Model name"),
                           (state.LABELS, "Version labels")):
            for value in GARBAGE:
                if key == state.LABELS and value in ("", " "):
                    continue  # no labels to probe is a valid choice
                app.sidebar.text_input(key=key).input(value).run()
                assert not app.exception, (name, field, value)
                errors = texts(app.error)
                assert len(errors) == 1 and errors[0].startswith(f"{field}: "), (name, field, value, errors)
            # Back to a good value before the next field.
            good = {state.CUSTOM_URL: fake_pets.url, state.MODEL: "pets", state.LABELS: "stable"}[key]
            app.sidebar.text_input(key=key).input(good).run()
            assert not app.exception and not app.error, (name, field)


def test_models_page_lists_versions_labels_and_signatures(page, fake_pets):
    app = page("models", fake_pets.url).run()
    assert not app.exception and not app.error
    versions = app.dataframe[0].value
    assert versions[["version", "state", "labels"]].to_dict("records") == [
        {"version": "1", "state": "AVAILABLE", "labels": "canary, stable"}]   # text: int64 exactly
    assert "#### Version 1 · stable, canary" in [m.value for m in app.markdown]
    assert [t.value for t in app.main.text] == ["Labels: stable → version 1, canary → version 1",
                                           "serving_default — tensorflow/serving/predict",
                                           "In effect for pets: built-in profile of pets (sha256:c58a04b3f8b5): "
                                           "preset pets"]
    assert app.table[0].value.loc[("input", "image_bytes")].tolist() == ["DT_STRING", "[-1]"]
    app.button(key="models_refresh").click().run()
    assert not app.exception and len(app.table) == 1


def test_models_page_unknown_model(page, fake_server):
    server = fake_server(lambda request: json_response(
        {"error": "Servable not found for request: Latest(nosuchmodel)"}, 404))
    app = page("models", server.url, model="nosuchmodel").run()
    [error] = texts(app.error)
    assert error.startswith(f"The server at {server.url} has no model named 'nosuchmodel'")
    assert not app.table


@pytest.mark.slow
def test_history_page_lists_a_classify_run_offers_its_link_and_download_and_clears(page, fake_pets, tmp_path):
    """A run started on Classify (dashboard.runs.manager, into the test's run store) is listed on History with what it
    asked for and what answered; selected, it offers its ?run= link and a download; clearing needs a yes."""
    from tests.dashboard.classify.test_classify_page import finish, press_classify, upload

    app = page("history", fake_pets.url, SERVESCOPE_OPERATOR_TOKEN="operator-token-for-the-tests").run()
    assert texts(app.info) == [EMPTY]
    app.switch_page("app_pages/classify.py").run()
    upload(app, [png_upload("red.png", RED), png_upload("blue.png", BLUE), ("broken.png", b"not a png", "image/png")])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    app.switch_page("app_pages/history.py").run()
    assert not app.exception
    [runs] = [table.value for table in app.dataframe if "note" in table.value.columns]
    assert runs[["run", "kind", "model", "target", "version", "status", "images", "errors"]].to_dict("records") == [
        {"run": run_id, "kind": "classify", "model": "pets", "target": "label:stable", "version": "1",
         "status": "complete", "images": 3, "errors": 1}]
    assert runs["open"].tolist()[0].endswith(f"/classify?run={run_id}")   # the row's link opens the run
    app.multiselect(key="history_stored_export_selected").select(run_id).run()
    [download] = app.get("download_button")
    assert download.proto.label == "Download 1 run(s) as CSV"
    # Clearing History is an operator's (dashboard.runs.ownership).
    app.text_input(key="sidebar_operator_token").input("operator-token-for-the-tests").run()
    app.button(key="history_stored_clear").click().run()
    app.button(key="history_stored_clear_no").click().run()
    assert [table.value["run"].tolist() for table in app.dataframe if "note" in table.value.columns] == [[run_id]]
    app.button(key="history_stored_clear").click().run()
    app.button(key="history_stored_clear_yes").click().run()
    assert texts(app.info) == ["Cleared 1 run(s).", EMPTY]
    assert not [table for table in app.dataframe if "note" in table.value.columns]


def test_status_is_not_fetched_again_within_the_cache_ttl(page, fake_server):
    server = fake_server(fake_model_handler())
    app = page("models", server.url, SERVESCOPE_WATCH_SECONDS="0").run()  # the watch asks every run on purpose
    status_calls = lambda: sum(1 for method, path in server.calls if path == "/v1/models/pets")  # noqa: E731
    seen = status_calls()
    app.run()
    assert status_calls() == seen
    app.button(key="models_refresh").click().run()
    assert status_calls() == seen + 1


BEACON = "http://127.0.0.1:9/beacon.png"
INJECTED = f"see [the docs](http://127.0.0.1:9/docs) ![b]({BEACON}) <img src='{BEACON}'> www.example.org"


def markdown_bodies(app) -> list[str]:
    """The text of every element Streamlit renders as Markdown (st.markdown/caption and the alert boxes)."""
    bodies: list[str] = []

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            proto = getattr(child, "proto", None)
            if proto is not None and proto.DESCRIPTOR.name in ("Markdown", "Alert"):
                bodies.append(proto.body)
            walk(child)

    walk(app._tree)
    return bodies


def assert_plain(bodies: list[str]) -> None:
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    for body in bodies:
        tokens = parser.parse(body)
        kinds = {token.type for token in tokens} | {child.type for token in tokens for child in token.children or []}
        assert not kinds & {"link_open", "image", "html_inline", "html_block"}, body
        assert "://127.0.0.1:9" not in body and "www.example" not in body, body  # no bare (auto)links either


def test_a_servers_error_text_is_shown_as_plain_text(page, fake_server):
    """File names and server texts on Classify: test_classify_page.py."""
    # The server's own error text, in the Home page's error box.
    refusing = fake_server(lambda request: json_response({"error": INJECTED}, 404))
    app = page("home", refusing.url).run()
    assert not app.exception and INJECTED in texts(app.error)[0]
    assert_plain(markdown_bodies(app))


