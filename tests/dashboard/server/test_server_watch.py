"""dashboard.server.watch: status answers -> stored observations (changes only), version timelines, label history,
the label-moved note. Store on SQLite and a live PostgreSQL; observe() against a fake TF Serving (our own logic)
and, marked slow, against the embedded server moving a real model's versions and labels."""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import altair as alt
import pytest
from werkzeug.wrappers import Request

from client import ServerUnavailableError, TFServingClient
from client.protocol import VersionStatus
from dashboard.models import charts as watch_charts
from dashboard.runs.results import label_moved_note
from dashboard.server import watch as server_watch
from client.store.database import Observation, open_store
from tests.pg import postgres_server  # noqa: F401  (session fixture)
from tests.support import embedded_server, fake_metadata, json_response, wait_until

URL = "http://127.0.0.1:8501"
T0 = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(any_store):  # every test here runs on SQLite and on PostgreSQL (conftest.any_store)
    return any_store


def status(version, state, code="OK", message=""):
    return VersionStatus(version, state, code, message)


def test_observations_from_status_one_per_version_and_label():
    seen = server_watch.observations_from_status(
        URL, "pets", [status(1, "AVAILABLE"), status(3, "END", "UNKNOWN", "Could not load: bad proto")],
        {"stable": 1, "gone": None}, T0)
    assert seen == [Observation(URL, "pets", version=1, state="AVAILABLE", observed_at=T0),
                    Observation(URL, "pets", version=3, state="END", error="Could not load: bad proto", observed_at=T0),
                    Observation(URL, "pets", label="gone", label_version=None, observed_at=T0),
                    Observation(URL, "pets", label="stable", label_version=1, observed_at=T0)]


def test_only_changes_are_stored_and_come_back_as_a_timeline(store):
    answers = [([status(2, "LOADING")], {"canary": None}),
               ([status(2, "LOADING")], {"canary": None}),              # nothing new
               ([status(2, "AVAILABLE")], {"canary": 2}),
               ([status(2, "AVAILABLE")], {"canary": 2}),              # nothing new
               ([status(2, "UNLOADING")], {"canary": 2}),
               ([status(2, "END", "UNKNOWN", "disk gone")], {"canary": None})]
    recorded = [store.record_observations(server_watch.observations_from_status(
        URL, "pets", statuses, labels, T0 + timedelta(seconds=10 * i))) for i, (statuses, labels) in enumerate(answers)]
    assert recorded == [2, 0, 2, 0, 1, 2]
    seen = store.observations("pets", url=URL)
    timeline = server_watch.version_timeline(seen, now=T0 + timedelta(minutes=5))
    assert timeline[["version", "state"]].values.tolist() == [[2, "LOADING"], [2, "AVAILABLE"], [2, "UNLOADING"],
                                                              [2, "END"]]
    assert timeline["start"].tolist() == [T0 + timedelta(seconds=s) for s in (0, 20, 40, 50)]
    assert timeline["end"].tolist() == [T0 + timedelta(seconds=s) for s in (20, 40, 50, 300)]
    assert timeline["error"].tolist()[-1] == "disk gone" and timeline["error"].isna().sum() == 3
    history = server_watch.label_history(seen, now=T0 + timedelta(minutes=5))
    assert history[["label", "version"]].astype(object).where(history.notna(), None).values.tolist() == [
        ["canary", None], ["canary", 2], ["canary", None]]
    assert server_watch.latest_labels(store, URL, "pets") == {"canary": None}
    assert server_watch.latest_labels(store, "http://elsewhere:8501", "pets") == {}


def test_charts_encode_the_frames():
    seen = [Observation(URL, "pets", version=1, state="AVAILABLE", observed_at=T0),
            Observation(URL, "pets", version=1, state="END", observed_at=T0 + timedelta(seconds=30)),
            Observation(URL, "pets", label="stable", label_version=1, observed_at=T0),
            Observation(URL, "pets", label="stable", label_version=2, observed_at=T0 + timedelta(seconds=20))]
    now = T0 + timedelta(minutes=1)
    timeline_spec = watch_charts.version_timeline_chart(server_watch.version_timeline(seen, now)).to_dict()
    assert timeline_spec["layer"][0]["mark"]["type"] == "bar"
    assert timeline_spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["AVAILABLE", "END"]
    steps = watch_charts.label_steps(server_watch.label_history(seen, now))
    assert steps[["time", "version"]].values.tolist() == [[T0, 1], [T0 + timedelta(seconds=20), 2], [now, 2]]
    label_spec = watch_charts.label_history_chart(server_watch.label_history(seen, now)).to_dict()
    assert label_spec["mark"]["interpolate"] == "step-after"
    assert isinstance(watch_charts.label_history_chart(server_watch.label_history(seen, now)), alt.Chart)


@pytest.mark.parametrize("text, seconds", [(None, 5.0), ("", 5.0), ("0", 0.0), ("2.5", 2.5)])
def test_watch_seconds_setting(text, seconds):
    assert server_watch.watch_seconds({} if text is None else {"SERVESCOPE_WATCH_SECONDS": text}) == seconds


@pytest.mark.parametrize("text", ["-1", "soon", "nan", "1e9"])
def test_watch_seconds_refuses_what_is_not_a_sane_interval(text):
    with pytest.raises(ValueError, match="SERVESCOPE_WATCH_SECONDS must be a number of seconds"):
        server_watch.watch_seconds({"SERVESCOPE_WATCH_SECONDS": text})


class Moving:
    """A fake TF Serving whose status and labels the test changes between observe() calls."""

    def __init__(self):
        self.states = {1: "AVAILABLE"}
        self.labels = {"stable": 1}
        self.down = False

    def __call__(self, request: Request):
        if self.down:
            return json_response({"error": "overloaded"}, 503)
        parts = request.path.strip("/").split("/")          # v1 models pets [labels L] [metadata]
        if "labels" in parts:
            label = parts[parts.index("labels") + 1]
            if label not in self.labels:
                return json_response({"error": f"Unrecognized servable version label: {label}"}, 400)
            return json_response(fake_metadata(version=self.labels[label]))
        if parts[-1] == "metadata":
            return json_response(fake_metadata(version=max(self.states)))
        return json_response({"model_version_status": [
            {"version": str(v), "state": s, "status": {"error_code": "OK", "error_message": ""}}
            for v, s in sorted(self.states.items())]})


def test_observe_records_changes_and_a_dead_server_records_nothing(store, fake_server):
    server = Moving()
    fake = fake_server(server)
    first = server_watch.observe(fake.url, "pets", ["stable", "canary"], store)
    assert (first.recorded, dict(first.labels), first.label_errors) == (3, {"stable": 1, "canary": None}, {})
    assert server_watch.observe(fake.url, "pets", ["stable", "canary"], store).recorded == 0
    server.states, server.labels = {1: "AVAILABLE", 2: "AVAILABLE"}, {"stable": 1, "canary": 2}
    assert server_watch.observe(fake.url, "pets", ["stable", "canary"], store).recorded == 2
    server.down = True
    with pytest.raises(ServerUnavailableError):
        server_watch.observe(fake.url, "pets", ["stable", "canary"], store)
    assert [(o.version, o.state, o.label, o.label_version) for o in store.observations("pets", url=fake.url)] == [
        (1, "AVAILABLE", None, None), (None, None, "canary", None), (None, None, "stable", 1),
        (2, "AVAILABLE", None, None), (None, None, "canary", 2)]


def test_a_label_the_server_cannot_answer_for_is_reported_not_recorded(store, fake_server):
    server = Moving()

    def handler(request: Request):
        if request.path.endswith("/labels/canary/metadata"):
            return json_response({"error": "label store unavailable"}, 503)
        return server(request)

    fake = fake_server(handler)
    with TFServingClient(fake.url, "pets", retries=0) as client:
        result = server_watch.observe_with(client, fake.url, ["stable", "canary"], store)
    assert dict(result.labels) == {"stable": 1}
    assert result.label_errors == {"canary": "ServerUnavailableError: label store unavailable"}
    assert [o.label for o in store.observations("pets", url=fake.url)] == [None, "stable"]


def test_raw_answers_are_the_servers_json_and_a_failed_request_says_so(fake_server):
    server = Moving()
    fake = fake_server(server)
    with TFServingClient(fake.url, "pets", retries=0) as client:
        answers = server_watch.fetch_raw_answers(client, ["stable", "nope"])
    assert list(answers) == ["/v1/models/pets", "/v1/models/pets/metadata", "/v1/models/pets/labels/stable/metadata",
                             "/v1/models/pets/labels/nope/metadata"]
    assert answers["/v1/models/pets"]["model_version_status"][0]["state"] == "AVAILABLE"
    assert answers["/v1/models/pets/labels/stable/metadata"] == json.loads(json.dumps(fake_metadata(version=1)))
    assert answers["/v1/models/pets/labels/nope/metadata"] == {
        "failed": 400, "error": "VersionNotAvailableError: Unrecognized servable version label: nope"}


# -- the embedded server, moving versions and labels for real --------------------------------------------------
def write_config(path: Path, base: Path, labels: dict[str, int]) -> None:
    label_text = " ".join(f'version_labels {{ key: "{k}" value: {v} }}' for k, v in labels.items())
    path.write_text(f'model_config_list {{ config {{ name: "half_plus_two" base_path: "{base}" '
                    f'model_platform: "tensorflow" model_version_policy {{ all {{}} }} {label_text} }} }}\n')


def label_now(url: str, label: str) -> int | None:
    with TFServingClient(url, "half_plus_two", timeout=5, retries=0) as client:
        found, _ = server_watch.read_labels(client, [label])
    return found[label]


def states_now(url: str) -> dict[int, str]:
    with TFServingClient(url, "half_plus_two", timeout=5, retries=0) as client:
        return {s.version: s.state for s in client.status()}


@pytest.mark.slow
def test_embedded_server_transitions_and_a_relabel_are_recorded(tmp_path, postgres_server):  # noqa: F811
    from tests.serving.model_builders import build_half_plus_two  # TensorFlow: only this test needs it

    base, spare = tmp_path / "models" / "half_plus_two", tmp_path / "spare"
    build_half_plus_two(base / "1", offset=2.0)
    build_half_plus_two(spare / "2", offset=3.0)
    config = tmp_path / "models.config"
    write_config(config, base, {"stable": 1})
    stores = [open_store(tmp_path / "runs.db"), open_store(postgres_server.create_database())]
    args = [f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1",
            "--file_system_poll_wait_seconds=1"]
    try:
        with embedded_server(args, wait_for_models={"half_plus_two": 1}) as url:
            def observe_all() -> list[int]:
                return [server_watch.observe(url, "half_plus_two", ["stable"], s).recorded for s in stores]

            assert observe_all() == [2, 2]          # version 1 AVAILABLE, stable -> 1
            runs = [s.create_run(kind="classify", url=url, model="half_plus_two", target="label:stable", total=1)
                    for s in stores]
            for s, run in zip(stores, runs):
                s.update_progress(run.id, version=1, labels_at_start={"stable": 1})

            shutil.copytree(spare / "2", base / ".staging-2")
            (base / ".staging-2").rename(base / "2")   # whole, so the poller never sees half a version
            wait_until(lambda: states_now(url).get(2) == "AVAILABLE", timeout=60, what="version 2 AVAILABLE")
            assert observe_all() == [1, 1]

            write_config(config, base, {"stable": 2})  # relabel through the config reload
            wait_until(lambda: label_now(url, "stable") == 2, timeout=60, what="stable -> 2")
            assert observe_all() == [1, 1]

            shutil.rmtree(base / "1")
            wait_until(lambda: states_now(url).get(1) == "END", timeout=60, what="version 1 END")
            assert observe_all() == [1, 1]
            for s, run in zip(stores, runs):
                seen = s.observations("half_plus_two", url=url)
                timeline = server_watch.version_timeline(seen)
                assert timeline[["version", "state"]].values.tolist() == [[1, "AVAILABLE"], [1, "END"],
                                                                          [2, "AVAILABLE"]]
                assert server_watch.label_history(seen)["version"].tolist() == [1, 2]
                assert label_moved_note(s.get_run(run.id), server_watch.latest_labels(s, url, "half_plus_two")) == \
                    "stable was version 1 when this ran; it is version 2 now"
    finally:
        for s in stores:
            s.close()
