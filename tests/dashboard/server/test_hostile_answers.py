"""The model overview and the server watch against crafted servers (tests/hostile_server.py, and a fake TF Serving
for a version error of a million characters): metadata requests are bounded whatever the number of versions, the
watch asks no version's metadata, int64 versions are kept whole and others reported, every server text is cut once.
"""
from __future__ import annotations

import pytest

from client import UnexpectedAnswerError
from dashboard.server import watch as server_watch
from dashboard.server.overview import SIGNATURES_SHOWN, fetch_model_overview, fetch_signatures, newest_versions
from tests.hostile_server import INT64_MAX, MANY_VERSIONS, MAX_VERSION, OVERFLOW_VERSION, HostileServer
from tests.support import fake_metadata, json_response

HUGE = 1_000_000
CUT = "… (cut; 1000000 characters in all)"


@pytest.fixture(scope="module")
def hostile():
    with HostileServer(version_count=10_000) as server:
        yield server


def version_metadata_gets(server: HostileServer, model: str) -> int:
    """Metadata requests for one version (not a label's, not the model's)."""
    prefix = f"/v1/models/{model}/versions/"
    with server._lock:
        return sum(n for (method, path), n in server.requests.items()
                   if method == "GET" and path.startswith(prefix) and path.endswith("/metadata"))


def test_newest_versions():
    assert newest_versions([3, 10, 7, 10, 1], 2) == [10, 7]
    assert newest_versions(range(1, 10_001)) == list(range(10_000, 9_980, -1))


def test_ten_thousand_versions_cost_at_most_twenty_metadata_requests(hostile):
    before = version_metadata_gets(hostile, MANY_VERSIONS)
    labels_before = hostile.count("/metadata") - before
    overview = fetch_model_overview(hostile.url, MANY_VERSIONS, ("stable", "canary"))
    # 19: version 10,000's metadata came with the labels' answers (both name it), and is not asked again.
    assert version_metadata_gets(hostile, MANY_VERSIONS) - before == SIGNATURES_SHOWN - 1 == 19
    assert hostile.count("/metadata") - version_metadata_gets(hostile, MANY_VERSIONS) - labels_before == 2  # labels
    assert len(overview.versions) == 10_000 and len(overview.available_versions) == 10_000
    assert overview.signature_versions == tuple(range(10_000, 9_980, -1))
    assert sorted(set(overview.signatures["version"])) == list(range(9_981, 10_001))
    assert overview.labels == {"stable": 10_000, "canary": 10_000}


def test_named_versions_get_their_signatures_and_unknown_ones_are_left_out(hostile):
    before = version_metadata_gets(hostile, MANY_VERSIONS)
    overview = fetch_model_overview(hostile.url, MANY_VERSIONS, (), signature_versions=[5, 7, 5, 99_999])
    assert overview.signature_versions == (5, 7)
    assert version_metadata_gets(hostile, MANY_VERSIONS) - before == 2
    extra, errors = fetch_signatures(hostile.url, MANY_VERSIONS, [9, 99_999])
    assert sorted(set(extra["version"])) == [9] and list(errors) == [99_999]
    assert errors[99_999].startswith("Servable not found for request: Specific(many_versions, 99999)")
    grown = overview.with_signatures([9, 99_999], extra, errors)
    assert grown.signature_versions == (99_999, 9, 7, 5)
    assert sorted(set(grown.signatures["version"])) == [5, 7, 9] and list(grown.metadata_errors) == [99_999]
    assert overview.with_signatures([5], extra, {}) is overview   # already there: nothing to add


def test_the_watch_asks_no_versions_metadata_and_records_ten_thousand_in_one_go(hostile, any_store):
    before = version_metadata_gets(hostile, MANY_VERSIONS)
    status_before = hostile.count(f"/v1/models/{MANY_VERSIONS}")
    result = server_watch.observe(hostile.url, MANY_VERSIONS, ("stable",), any_store)
    assert version_metadata_gets(hostile, MANY_VERSIONS) == before
    assert hostile.count(f"/v1/models/{MANY_VERSIONS}") - status_before == 1
    assert result.recorded == 10_001
    again = server_watch.observe(hostile.url, MANY_VERSIONS, ("stable",), any_store)
    assert again.recorded == 0
    timeline = server_watch.version_timeline(any_store.observations(MANY_VERSIONS, url=hostile.url))
    drawn, total = server_watch.recently_changed(timeline)
    assert total == 10_000 and sorted(set(drawn["version"])) == list(range(9_981, 10_001))


def test_the_largest_int64_version_is_kept_whole(hostile, any_store):
    overview = fetch_model_overview(hostile.url, MAX_VERSION, ("stable",))
    assert overview.available_versions == [INT64_MAX] and overview.labels == {"stable": INT64_MAX}
    assert overview.signature_versions == (INT64_MAX,)
    result = server_watch.observe(hostile.url, MAX_VERSION, ("stable",), any_store)
    assert result.recorded == 2
    assert [(o.version, o.label_version) for o in any_store.observations(MAX_VERSION)] == [
        (INT64_MAX, None), (None, INT64_MAX)]
    timeline = server_watch.version_timeline(any_store.observations(MAX_VERSION))
    assert timeline["version"].astype("string").tolist() == ["9223372036854775807"]


def test_a_version_past_int64_is_the_clients_refusal_and_nothing_is_recorded(hostile, any_store):
    with pytest.raises(UnexpectedAnswerError, match=r"model_version_status\[\]\.version is outside 0\.\.2\^63-1"):
        server_watch.observe(hostile.url, OVERFLOW_VERSION, ("stable",), any_store)
    assert any_store.observations(OVERFLOW_VERSION) == []


def failing_version_server(request):
    """Version 1 AVAILABLE, version 2 END with an error of a million characters."""
    if request.path.endswith("/metadata"):
        return json_response(fake_metadata())
    return json_response({"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
        {"version": "2", "state": "END", "status": {"error_code": "NOT_FOUND", "error_message": "E" * HUGE}}]})


def test_a_million_character_version_error_is_cut_once_in_the_overview_and_the_store(fake_server, any_store):
    server = fake_server(failing_version_server)
    overview = fetch_model_overview(server.url, "pets", ())
    assert overview.versions["error"].tolist() == ["", "E" * 300 + CUT]
    server_watch.observe(server.url, "pets", (), any_store)
    errors = [o.error for o in any_store.observations("pets")]
    assert errors == [None, "E" * 300 + CUT]
    timeline = server_watch.version_timeline(any_store.observations("pets"))
    assert timeline["error"].tolist()[-1] == "E" * 300 + CUT
