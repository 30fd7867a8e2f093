"""A model server's answers are not trusted: size limits, a deadline per exchange, one rule for error texts,
probabilities that must be a distribution, int64 versions. Against tests/hostile_server.py on a loopback port."""
from __future__ import annotations

import ssl
import threading
import tracemalloc

import pytest
import requests
from urllib3.exceptions import SSLError

from client import (AnswerTooLargeError, InvalidArgumentError, ModelNotFoundError, RequestTimeoutError,
                    ServerUnavailableError, TFServingClient, UnexpectedAnswerError)
from client.answers import connection_reason
from client.errors import bounded
from client.probabilities import PROBABILITY_TOLERANCE, distribution_problem
from dashboard.server.explain import explain
from tests.client.conftest import json_response, png_bytes
from tests.hostile_server import INT64_MAX, PROBABILITY_ROWS, HostileServer
from tests.support import wait_until

CUT_1MB = "… (cut; 1000000 characters in all)"


@pytest.fixture(scope="module")
def hostile():
    with HostileServer(trickle_seconds=0.2, version_count=10_000) as server:
        yield server


def images(count: int) -> list[tuple[str, bytes]]:
    return [(f"{i}.png", png_bytes((200, 10, 10))) for i in range(count)]


# -- size limits -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, path", [
    (lambda tfs: tfs.status(), "/v1/models/gzip_bomb"),
    (lambda tfs: tfs.metadata(version=3), "/v1/models/gzip_bomb/versions/3/metadata"),
    (lambda tfs: tfs.resolve_version(label="stable"), "/v1/models/gzip_bomb/labels/stable/metadata"),
    (lambda tfs: tfs.raw_answer(), "/v1/models/gzip_bomb"),
])
def test_a_gzip_bomb_is_refused_past_the_status_limit_in_bounded_memory(hostile, call, path):
    url = hostile.url + path
    with TFServingClient(hostile.url, "gzip_bomb", retries=0) as tfs:
        tracemalloc.start()
        try:
            with pytest.raises(AnswerTooLargeError) as caught:
                call(tfs)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.error == (f"the answer from {url} is larger than 8 MiB, the limit for status and metadata "
                                  "answers; refused")
    assert (caught.value.method, caught.value.url, caught.value.status) == ("GET", url, 200)
    assert peak < 24 * 2 ** 20   # the 8 MiB read and a chunk, not the 1 GiB the answer inflates to


def test_a_predict_answer_over_its_limit_is_refused(hostile):
    url = f"{hostile.url}/v1/models/gzip_bomb:predict"
    with TFServingClient(hostile.url, "gzip_bomb", retries=0, max_predict_answer_bytes=2 ** 20) as tfs:
        with pytest.raises(AnswerTooLargeError) as caught:
            tfs.predict(instances=[[1.0]])
    assert str(caught.value) == (f"POST {url} -> 200: the answer from {url} is larger than 1 MiB, the limit for "
                                 "predict answers; refused")


def test_a_declared_length_over_the_limit_is_refused_every_time(hostile):
    url = f"{hostile.url}/v1/models/error_404"
    with TFServingClient(hostile.url, "error_404", retries=0, max_answer_bytes=1000) as tfs:
        for _ in range(2):
            with pytest.raises(AnswerTooLargeError) as caught:
                tfs.status()
            assert caught.value.error == (f"the answer from {url} is larger than 1,000 bytes, the limit for status "
                                          "and metadata answers; refused")
            assert caught.value.status == 404


def test_a_too_large_predict_answer_costs_its_batch_rows_only(hostile):
    # ~70 bytes per instance: a batch of 4 is over 200 bytes, a batch of 1 is not.
    with TFServingClient(hostile.url, "many_versions", retries=0, max_predict_answer_bytes=200) as tfs:
        results = tfs.classify(images(5), version=7, batch_size=4, concurrency=1)
    assert [r.error_type for r in results] == ["AnswerTooLargeError"] * 4 + [None]
    assert results[0].error.endswith("is larger than 200 bytes, the limit for predict answers; refused")
    assert (results[4].label, results[4].version) == ("cat", 7)


def test_the_limits_are_checked_as_options():
    with pytest.raises(InvalidArgumentError) as caught:
        TFServingClient("http://127.0.0.1:1", "pets", max_answer_bytes=0)
    assert str(caught.value) == "max_answer_bytes 0: must be an integer >= 1"


def test_the_sessions_own_hooks_see_the_bounded_body_and_never_the_bomb(hostile):
    seen: list[int] = []
    with TFServingClient(hostile.url, "many_versions", retries=0) as tfs:
        tfs.session.hooks["response"].append(lambda reply, **_: seen.append(len(reply.content)))
        assert len(tfs.status()) == 10_000
        bomb = TFServingClient(hostile.url, "gzip_bomb", retries=0, session=tfs.session)
        with pytest.raises(AnswerTooLargeError):
            bomb.status()
    assert len(seen) == 1 and seen[0] > 100_000


def test_a_session_passed_in_is_bounded_too(hostile):
    with requests.Session() as session:
        with TFServingClient(hostile.url, "gzip_bomb", retries=0, session=session) as tfs:
            with pytest.raises(AnswerTooLargeError):
                tfs.status()


# -- the deadline -------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("model", ["trickle", "trickle_body"])
def test_a_trickled_answer_ends_at_the_deadline(hostile, model):
    ended = len(hostile.trickles)
    with TFServingClient(hostile.url, model, timeout=1.0, retries=2) as tfs:
        with pytest.raises(RequestTimeoutError) as caught:
            tfs.status()
        assert str(caught.value) == f"GET {hostile.url}/v1/models/{model}: no complete answer within 1 s"
        assert caught.value.status is None
        # The same client (and its connection pool) goes on working.
        assert tfs.metadata(version=1).version == 1
    # The client hung up mid-answer (one byte per 0.2 s: the whole answer would take over 20 s), once: no retry.
    wait_until(lambda: len(hostile.trickles) > ended, timeout=30, what="the trickle to end")
    [(sent, size)] = hostile.trickles[ended:]
    assert sent < size


@pytest.mark.slow
def test_a_trickled_body_ends_at_the_deadline_with_a_session_passed_in(hostile):
    with requests.Session() as session:
        with TFServingClient(hostile.url, "trickle_body", timeout=1.0, session=session) as tfs:
            with pytest.raises(RequestTimeoutError) as caught:
                tfs.status()
    assert caught.value.error == "no complete answer within 1 s"


def test_answers_read_to_their_end_keep_the_connection_alive(hostile):
    before = len(hostile.peers)
    with TFServingClient(hostile.url, "max_version", retries=0) as tfs:
        for _ in range(3):
            tfs.status()
            tfs.raw_answer(version=INT64_MAX, metadata=True)
    ports = hostile.peers[before:]
    assert len(ports) == 6 and len(set(ports)) == 1


@pytest.mark.slow
def test_a_huge_retry_after_waits_one_timeout_at_most(fake_server):
    answers = iter([json_response({"error": "slow down"}, 503, {"Retry-After": "3600"}),
                    json_response({"model_version_status": []})])
    server = fake_server(lambda request: next(answers))
    outcome: list[object] = []

    def call() -> None:
        with TFServingClient(server.url, "pets", timeout=1, retries=1) as tfs:
            outcome.append(tfs.status())

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(60)   # not a speed check: without the cap it would wait an hour
    assert outcome == [()]
    assert len(server.calls) == 2


# -- error texts --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, error_class, status", [("error_404", ModelNotFoundError, 404),
                                                        ("error_500", ServerUnavailableError, 500)])
def test_a_megabyte_error_text_is_cut_once_on_one_line(hostile, model, error_class, status):
    with TFServingClient(hostile.url, model, retries=0) as tfs:
        with pytest.raises(error_class) as caught:
            tfs.status()
    exc = caught.value
    assert exc.status == status
    assert exc.error == "Not found: " + "x" * 289 + CUT_1MB
    message = explain(exc, hostile.url, model)
    assert message.count("(cut;") == 1 and CUT_1MB in message and "\n" not in message


def test_bounded_is_one_line_one_bound_one_note():
    text = "line one\r\nline two\n\n" + "y" * 1000
    once = bounded(text)
    assert once == "line one line two " + "y" * 282 + "… (cut; 1020 characters in all)"
    assert bounded(once) == once
    assert bounded(once, 10) == "line one l… (cut; 1020 characters in all)"
    assert bounded("a\nb") == "a b"
    assert bounded("z" * 300) == "z" * 300


# -- probabilities ------------------------------------------------------------------------------------------
def test_a_row_that_is_not_a_distribution_is_that_images_error_and_the_batch_stays(hostile):
    with TFServingClient(hostile.url, "bad_probabilities", retries=0) as tfs:
        results = tfs.classify(images(8), batch_size=8, concurrency=1)
    assert [name for name, _ in PROBABILITY_ROWS] == ["good", "nan", "infinity", "minus_infinity", "negative",
                                                       "above_one", "sum_0_3"]
    assert [(r.label, r.version) for r in (results[0], results[7])] == [("cat", 1), ("cat", 1)]
    assert dict(results[0].probabilities) == {"cat": 0.7, "dog": 0.2, "other": 0.1}
    prefix = "output 'probabilities' is not a probability distribution: "
    hint = '; if it holds logits, set output.kind to "logits" in the model profile'  # values logits could have
    assert [(r.error_type, r.error) for r in results[1:7]] == [
        ("InvalidProbabilitiesError", f"1.png: {prefix}'cat' is NaN"),
        ("InvalidProbabilitiesError", f"2.png: {prefix}'cat' is Infinity"),
        ("InvalidProbabilitiesError", f"3.png: {prefix}'cat' is -Infinity"),
        ("InvalidProbabilitiesError", f"4.png: {prefix}'cat' is negative (-0.5){hint}"),
        ("InvalidProbabilitiesError", f"5.png: {prefix}'cat' is above 1 (5){hint}"),
        ("InvalidProbabilitiesError", f"6.png: {prefix}they sum to 0.3, not 1 (tolerance 0.001){hint}"),
    ]
    assert all(r.top_class is None and r.confidence is None and r.version == 1 for r in results[1:7])


@pytest.mark.parametrize("values, problem", [
    ([0.5, 0.5 + 0.9 * PROBABILITY_TOLERANCE], None),
    ([1.0 + 0.5 * PROBABILITY_TOLERANCE, 0.0], None),
    ([-0.0, 1.0], None),
    ([0.5, 0.5 + 1.1 * PROBABILITY_TOLERANCE], "they sum to 1.0011, not 1 (tolerance 0.001)"),
    ([0.0, 0.0], "they sum to 0, not 1 (tolerance 0.001)"),
    ([-1e-9, 1.0], "'a' is negative (-1e-09)"),
    ([1.01, 0.0], "'a' is above 1 (1.01)"),
])
def test_the_tolerance_is_on_the_sum_and_on_values_above_one(values, problem):
    assert distribution_problem(dict(zip("ab", values))) == problem


# -- int64 versions -----------------------------------------------------------------------------------------
def test_version_2_63_minus_1_works_end_to_end(hostile):
    with TFServingClient(hostile.url, "max_version", retries=0) as tfs:
        assert [s.version for s in tfs.status()] == [INT64_MAX]
        assert [s.version for s in tfs.status(version=INT64_MAX)] == [INT64_MAX]
        assert tfs.metadata(version=INT64_MAX).version == INT64_MAX
        latest = tfs.classify(images(2))
        targeted = tfs.classify(images(1), version=INT64_MAX)
    assert [(r.label, r.version) for r in latest + targeted] == [("cat", INT64_MAX)] * 3
    assert hostile.count(f"/v1/models/max_version/versions/{INT64_MAX}:predict", method="POST") >= 2


@pytest.mark.parametrize("call, path, field", [
    (lambda tfs: tfs.status(), "/v1/models/overflow_version", "model_version_status[].version"),
    (lambda tfs: tfs.metadata(), "/v1/models/overflow_version/metadata", "model_spec.version"),
])
def test_a_version_past_int64_is_an_unexpected_answer_naming_the_field(hostile, call, path, field):
    with TFServingClient(hostile.url, "overflow_version", retries=0) as tfs:
        with pytest.raises(UnexpectedAnswerError) as caught:
            call(tfs)
    assert (caught.value.url, caught.value.status) == (hostile.url + path, 200)
    assert caught.value.error == (f"unexpected answer: ValueError: {field} is outside 0..2^63-1 "
                                  "(TF Serving's versions are int64)")


def test_asking_for_version_2_63_is_refused_before_sending(hostile):
    before = hostile.count()
    with TFServingClient(hostile.url, "max_version", retries=0) as tfs:
        with pytest.raises(InvalidArgumentError) as caught:
            tfs.status(version=INT64_MAX + 1)
    assert str(caught.value) == ("version 9223372036854775808: is above 2^63-1, the largest version TF Serving has "
                                 "(int64)")
    assert hostile.count() == before


def test_ten_thousand_versions_are_one_status_request(hostile):
    before = hostile.count("/v1/models/many_versions")
    with TFServingClient(hostile.url, "many_versions", retries=0) as tfs:
        versions = tfs.status()
    assert [versions[0].version, versions[-1].version, len(versions)] == [1, 10_000, 10_000]
    assert hostile.count("/v1/models/many_versions") == before + 1


def test_an_untrusted_tls_certificate_is_named_not_a_crash():
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
    cause.reason = "CERTIFICATE_VERIFY_FAILED"   # ssl's reason is a str, not an exception
    assert connection_reason(requests.exceptions.SSLError(SSLError(cause))) == "TLS certificate not trusted"
