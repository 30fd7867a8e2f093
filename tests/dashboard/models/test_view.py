"""dashboard.models.view by AppTest: the server watch records what a (fake) TF Serving says and draws it from the
store; raw JSON is asked for only when its button is pressed and shows its age; a dead server is reported."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.plain import escape_markdown
from client.store.database import open_store
from tests.dashboard.server.test_server_watch import Moving
from tests.support import ROOT

APP = ROOT / "tests" / "dashboard" / "apps" / "models_watch_app.py"


@pytest.fixture
def store(tmp_path):
    opened = open_store(tmp_path / "runs.db")
    yield opened
    opened.close()


def start(store, url) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=60)  # SERVESCOPE_WATCH_SECONDS unset: every 5 s
    app.session_state["store"] = store
    app.session_state["url"] = url
    return app.run()


def chart_marks(app) -> list:
    """Each chart's mark type; a layered chart's as a tuple of its layers' types."""
    specs = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    return [tuple(layer["mark"]["type"] for layer in spec["layer"]) if "layer" in spec else spec["mark"]["type"]
            for spec in specs]


WATCHING = "; watching every 5 s while this page is open."


@pytest.mark.slow
def test_the_watch_records_changes_and_draws_the_timeline_and_label_history(store, fake_server):
    server = Moving()
    fake = fake_server(server)
    app = start(store, fake.url)
    assert not app.exception
    assert [(o.version, o.state, o.label, o.label_version) for o in store.observations("pets", url=fake.url)] == [
        (1, "AVAILABLE", None, None), (None, None, "canary", None), (None, None, "stable", 1)]
    [counted] = [c.value for c in app.caption if "recorded change(s)" in c.value]
    assert counted.startswith("3 recorded change(s) of this model at this server. Asked at ")
    assert counted.endswith(" UTC (3 new change(s))" + WATCHING)
    assert [e.label for e in app.expander][0] == "The 3 recorded change(s), newest first"   # the caption's count
    assert chart_marks(app) == [("bar", "text"), "line"]
    server.states, server.labels = {1: "END", 2: "AVAILABLE"}, {"stable": 2}
    app.run()
    timeline, labels = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    bars, names = timeline["layer"]
    assert bars["encoding"]["color"]["scale"]["domain"] == ["AVAILABLE", "END"]
    assert bars["encoding"]["color"]["legend"]["orient"] == "top"
    assert (bars["encoding"]["x"]["type"], names["encoding"]["text"]["field"]) == ("temporal", "state")
    assert (labels["encoding"]["y"]["type"], labels["encoding"]["y"]["sort"]) == ("nominal", ["2", "1"])
    [counted] = [c.value for c in app.caption if "recorded change(s)" in c.value]
    assert counted.startswith("6 recorded change(s) of this model at this server. Asked at ")
    assert counted.endswith(" UTC (3 new change(s))" + WATCHING)   # v1 END, v2 AVAILABLE, stable -> 2
    assert [e.label for e in app.expander][0] == "The 6 recorded change(s), newest first"
    app.run()
    [counted] = [c.value for c in app.caption if "recorded change(s)" in c.value]
    assert counted.startswith("6 recorded change(s)") and counted.endswith(" UTC (nothing new)" + WATCHING)


@pytest.mark.slow
def test_a_dead_server_is_reported_and_on_failure_runs(store, fake_server):
    server = Moving()
    fake = fake_server(server)
    app = start(store, fake.url)
    server.down = True
    app.run()
    assert not app.exception
    [warning] = [w.value for w in app.warning]
    assert warning.startswith(escape_markdown("The server did not answer the status request:"))
    assert app.session_state["failures"] == [fake.url]
    assert len(store.observations("pets", url=fake.url)) == 3   # what was seen before stays, nothing new


@pytest.mark.slow
def test_raw_answers_only_on_demand_with_their_age(store, fake_server):
    server = Moving()
    fake = fake_server(server)
    app = start(store, fake.url)
    assert not [path for _, path in fake.calls if path.endswith("/v1/models/pets/metadata")]
    assert "Not asked yet." in [c.value for c in app.caption]
    app.button(key="models_raw_fetch").click().run()
    bodies = [json.loads(element.proto.body) for element in app.json]
    assert bodies[0]["model_version_status"][0]["state"] == "AVAILABLE"
    assert bodies[2]["model_spec"]["version"] == "1"           # /labels/stable/metadata
    assert [t.value for t in app.text if t.value.startswith("GET ")] == [
        "GET /v1/models/pets", "GET /v1/models/pets/metadata", "GET /v1/models/pets/labels/stable/metadata"]
    assert any(c.value in ("answer from just now", "answer from 1 s ago") for c in app.caption)
    asked = len(fake.calls)
    app.run()                                                 # shown again from the session, not asked again
    assert len(app.json) == 3 and ("GET", "/v1/models/pets/metadata") not in fake.calls[asked:]


@pytest.mark.slow
def test_watching_turned_off_only_draws_what_was_recorded(store, fake_server, monkeypatch):
    server = Moving()
    fake = fake_server(server)
    start(store, fake.url)                                      # recorded once, as a run start would
    monkeypatch.setenv("SERVESCOPE_WATCH_SECONDS", "0")
    asked = len(fake.calls)
    app = start(store, fake.url)
    assert not app.exception and fake.calls[asked:] == []
    assert "3 recorded change(s) of this model at this server." in [c.value for c in app.caption]
    assert any(c.value.startswith("Not asking the server from this page") for c in app.caption)
    assert chart_marks(app) == [("bar", "text"), "line"]
    monkeypatch.setenv("SERVESCOPE_WATCH_SECONDS", "often")
    assert "SERVESCOPE\\_WATCH\\_SECONDS must be a number" in start(store, fake.url).error[0].value
