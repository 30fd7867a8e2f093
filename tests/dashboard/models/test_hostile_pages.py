"""Home and Models by AppTest against crafted servers: a model with 10,000 versions costs at most 20 metadata
requests and the visitor picks further versions (each asked once, then cached); a version of 2^63-1 is shown whole,
as text; a version error of a million characters is cut once, in the versions table and under the timeline."""
from __future__ import annotations

import json

import pytest

from dashboard.plain import escape_markdown
from tests.dashboard.server.test_hostile_answers import CUT, failing_version_server, version_metadata_gets
from tests.hostile_server import INT64_MAX, MANY_VERSIONS, MAX_VERSION, HostileServer


@pytest.fixture
def hostile():
    with HostileServer(version_count=10_000) as server:
        yield server


def texts(elements) -> list[str]:
    return [element.value for element in elements]


@pytest.mark.slow
def test_home_with_ten_thousand_versions_names_the_newest_and_asks_little(page, hostile):
    app = page("home", hostile.url, model=MANY_VERSIONS).run()
    assert not app.exception and not app.error
    newest = ", ".join(str(v) for v in range(9_991, 10_001))
    assert texts(app.success) == [escape_markdown(
        f"Connected to {hostile.url}: model '{MANY_VERSIONS}' has 10,000 available version(s): the newest 10: "
        f"{newest} (the Models page lists them all).", limit=None)]
    assert [m.value for m in app.metric] == ["10,000", "10000", "stable→10000, canary→10000"]
    assert version_metadata_gets(hostile, MANY_VERSIONS) <= 20
    assert hostile.count("/metadata") <= 22   # and one per label


@pytest.mark.slow
def test_models_with_ten_thousand_versions_shows_twenty_and_lets_the_visitor_pick_more(page, hostile):
    app = page("models", hostile.url, model=MANY_VERSIONS, SERVESCOPE_WATCH_SECONDS="0").run()
    assert not app.exception and not app.error
    assert "Signatures of the newest 20 of 10,000 available versions; pick others below." in texts(app.caption)
    shown = [m.value for m in app.markdown if m.value.startswith("#### Version")]
    assert len(shown) == 20 and shown[0].startswith("#### Version 10000") and shown[-1] == "#### Version 9981"
    assert len(app.dataframe[0].value) == 10_000
    asked = version_metadata_gets(hostile, MANY_VERSIONS)
    assert asked <= 20
    picker = app.multiselect(key="models_signature_versions")
    assert len(picker.options) == 9_980 and picker.options[0] == "9980"
    picker.set_value([5, 7]).run()
    assert not app.exception
    shown = [m.value for m in app.markdown if m.value.startswith("#### Version")]
    assert shown[-2:] == ["#### Version 7", "#### Version 5"] and len(shown) == 22
    assert version_metadata_gets(hostile, MANY_VERSIONS) == asked + 2
    app.run()   # the picked versions' signatures are cached
    assert version_metadata_gets(hostile, MANY_VERSIONS) == asked + 2
    assert hostile.count("/versions/5/metadata") == 1


@pytest.mark.slow
def test_models_shows_the_largest_int64_version_whole_and_the_watch_records_it(page, hostile):
    app = page("models", hostile.url, model=MAX_VERSION).run()
    assert not app.exception and not app.error
    assert app.dataframe[0].value["version"].tolist() == [str(INT64_MAX)]
    assert f"#### Version {INT64_MAX} · stable, canary" in texts(app.markdown)
    assert any(c.startswith("3 recorded change(s)") and c.endswith(
        "(3 new change(s)); watching every 5 s while this page is open.") for c in texts(app.caption))
    changes = app.dataframe[-1].value
    assert sorted(changes["version"].dropna().tolist()) == [str(INT64_MAX)]
    assert sorted(changes["label version"].dropna().tolist()) == [str(INT64_MAX)] * 2
    app.run()
    assert not app.exception and not app.error


@pytest.mark.slow
def test_a_million_character_version_error_is_shown_cut_once(page, fake_server):
    server = fake_server(failing_version_server)
    app = page("models", server.url).run()
    assert not app.exception
    versions = app.dataframe[0].value
    assert versions["error"].tolist() == ["", "E" * 300 + CUT]
    under_timeline = app.dataframe[1].value
    assert under_timeline["error"].tolist() == ["E" * 300 + CUT]
    changes = app.dataframe[-1].value
    assert [e for e in changes["error"].tolist() if isinstance(e, str) and e] == ["E" * 300 + CUT]


@pytest.mark.slow
def test_the_watch_over_ten_thousand_versions_draws_the_twenty_that_changed_last(page, hostile):
    app = page("models", hostile.url, model=MANY_VERSIONS).run()   # 10,000 versions and 2 labels, all new
    assert not app.exception and not app.error
    captions = texts(app.caption)
    assert any(c.startswith("10,002 recorded change(s)") and c.endswith(
        "(10,002 new change(s)); watching every 5 s while this page is open.") for c in captions)
    assert "Timeline of the 20 versions that changed last, of 10,000 recorded." in captions
    specs = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    assert [[layer["mark"]["type"] for layer in specs[0]["layer"]], specs[1]["mark"]["type"]] == [["bar", "text"],
                                                                                                 "line"]
    assert "The newest 1,000." in captions and len(app.dataframe[-1].value) == 1_000
    asked = version_metadata_gets(hostile, MANY_VERSIONS)
    app.run()
    assert not app.exception and version_metadata_gets(hostile, MANY_VERSIONS) == asked   # the watch asks none
    assert any(c.startswith("10,002 recorded change(s)") and c.endswith(
        "(nothing new); watching every 5 s while this page is open.") for c in texts(app.caption))
