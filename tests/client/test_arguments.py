"""Every public TFServingClient call refuses a bad argument with InvalidArgumentError naming the field, before
anything is sent (the sidebar may hold any text)."""
from __future__ import annotations

import pytest

from client import InvalidArgumentError, SignatureConfig, TFServingClient, TFServingError
from tests.client.conftest import FakeServer, fake_model_handler, png_bytes

IMAGE = [("a.png", png_bytes((200, 10, 10)))]


@pytest.fixture(scope="module")
def one_server():
    """One fake server for the many cheap cases here (each test clears its record of calls)."""
    server = FakeServer(fake_model_handler())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(one_server):
    one_server.calls.clear()
    one_server.bodies.clear()
    return one_server


@pytest.mark.parametrize("base_url, reason", [
    ("", "must start with http:// or https://"),
    ("htp:/x", "must start with http:// or https://"),
    ("127.0.0.1:8501", "must start with http:// or https://"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("http://", "has no host"),
    ("http:///v1", "has no host"),
    ("http://127.0.0.1:99999", "is not a URL (Port out of range 0-65535)"),
    ("http://127.0.0.1:port", "is not a URL (Port could not be cast to integer value as 'port')"),
    ("http://[::1", "is not a URL (Invalid IPv6 URL)"),
    ("http://127.0.0.1:8501/secret.txt?", "must not contain '?' or '#'"),
    ("http://127.0.0.1:8501/#frag", "must not contain '?' or '#'"),
    ("http://exa mple:8501", "must be printable ASCII without spaces"),
    ("http://ünïcode.example", "must be printable ASCII without spaces"),
    ("http://h:1\n", "must be printable ASCII without spaces"),
    ("http://a..b:8501", "has an invalid host name"),
    ("http://" + "a" * 64 + ".example:8501", "has an invalid host name"),
    ("http://.:1", "has an invalid host name"),
    ("http://%zz:1", "has an invalid host name"),
    ("http://user:secret@127.0.0.1:8501", "must not hold a user name or password"),
    ("http://127.0.0.1:0", "port 0 is not a server's port"),
    (None, "must be text, not NoneType"),
    (b"http://127.0.0.1:8501", "must be text, not bytes"),
])
def test_a_malformed_base_url_is_refused_naming_the_field(base_url, reason):
    with pytest.raises(InvalidArgumentError) as caught:
        TFServingClient(base_url, "pets")
    assert caught.value.field == "base_url" and caught.value.value == base_url
    assert reason in caught.value.error


@pytest.mark.parametrize("base_url, kept", [
    ("http://127.0.0.1:8501/", "http://127.0.0.1:8501"),
    ("https://serving.example:443/prefix/", "https://serving.example:443/prefix"),
    ("http://[::1]:8501", "http://[::1]:8501"),
    ("http://tf_serving.svc.cluster.local.:8501", "http://tf_serving.svc.cluster.local.:8501"),
])
def test_good_base_urls_are_kept_without_trailing_slash(base_url, kept):
    with TFServingClient(base_url, "pets") as tfs:
        assert tfs.base_url == kept


@pytest.mark.parametrize("options, field", [
    ({"timeout": 0}, "timeout"), ({"timeout": -1}, "timeout"), ({"timeout": float("nan")}, "timeout"),
    ({"timeout": float("inf")}, "timeout"), ({"timeout": "5"}, "timeout"), ({"timeout": True}, "timeout"),
    ({"retries": -1}, "retries"), ({"retries": 1.5}, "retries"), ({"pool_size": 0}, "pool_size"),
    ({"max_side": 0}, "max_side"), ({"backoff_factor": -0.1}, "backoff_factor"),
    ({"labels": ["cat", "", "dog"]}, "labels"), ({"labels": ["cat", "cat"]}, "labels"), ({"labels": "cat"}, "labels"),
    ({"signature": {"class_names": ["cat"]}}, "signature"),
])
def test_bad_client_options_are_refused(options, field):
    with pytest.raises(InvalidArgumentError) as caught:
        TFServingClient("http://127.0.0.1:8501", "pets", **options)
    assert caught.value.field == field


@pytest.mark.parametrize("model", ["", "a,,b", "../x", "my model", "pêts", "x" * 256, None])
def test_a_bad_model_name_is_refused_by_the_constructor(model):
    with pytest.raises(InvalidArgumentError) as caught:
        TFServingClient("http://127.0.0.1:8501", model)
    assert caught.value.field == "model"


CALLS = {
    "status": lambda tfs, target: tfs.status(**target),
    "metadata": lambda tfs, target: tfs.metadata(**target),
    "predict": lambda tfs, target: tfs.predict(instances=[{"image_bytes": b"x"}], **target),
    "resolve_version": lambda tfs, target: tfs.resolve_version(**target),
    "plan": lambda tfs, target: tfs.plan(**target),
    "classify": lambda tfs, target: tfs.classify(IMAGE, **target),
    "iter_classify": lambda tfs, target: next(tfs.iter_classify(IMAGE, **target)),
}
TARGETS = [
    ({"label": "a,,b"}, "label"), ({"label": "../x"}, "label"), ({"label": " stable"}, "label"),
    ({"label": "ünïcode"}, "label"), ({"label": ""}, "label"), ({"label": "x" * 10_000}, "label"),
    ({"version": "2"}, "version"), ({"version": -1}, "version"), ({"version": 1.5}, "version"),
    ({"version": float("inf")}, "version"), ({"version": 1, "label": "stable"}, "version/label"),
]


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("target, field", TARGETS)
def test_every_call_refuses_a_bad_target_before_sending(server, call, target, field):
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(InvalidArgumentError) as caught:
            CALLS[call](tfs, target)
    assert caught.value.field == field
    assert server.calls == []


@pytest.mark.parametrize("options, field", [
    ({"batch_size": 0}, "batch_size"), ({"concurrency": 0}, "concurrency"), ({"batch_size": 2.5}, "batch_size"),
    ({"labels": ["a", "a", "b"]}, "labels"), ({"on_progress": "print"}, "on_progress"),
    ({"images": "cat.jpg"}, "images"), ({"images": b"\x89PNG"}, "images"), ({"images": None}, "images"),
    ({"images": 42}, "images"),
])
def test_bad_classify_options_are_refused_before_sending(server, options, field):
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(InvalidArgumentError) as caught:
            tfs.classify(**{"images": IMAGE, **options})
    assert caught.value.field == field
    assert [method for method, _ in server.calls if method == "POST"] == []


@pytest.mark.parametrize("request_kwargs, field, reason", [
    ({"instances": [{1, 2}]}, "instances", "cannot be sent as JSON (cannot send a set to TF Serving)"),
    ({"inputs": {"x": object()}}, "inputs", "cannot be sent as JSON (cannot send a object to TF Serving)"),
    ({}, "instances/inputs", "give exactly one of instances= (row form) or inputs= (columnar form)"),
])
def test_predict_refuses_a_body_it_cannot_send(server, request_kwargs, field, reason):
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(InvalidArgumentError) as caught:
            tfs.predict(**request_kwargs)
    assert caught.value.field == field and caught.value.error.endswith(reason)
    assert server.calls == []


def test_a_configured_signature_must_be_a_signature_config():
    config = SignatureConfig(class_names=("cat", "dog"))
    with TFServingClient("http://127.0.0.1:8501", "pets", signature=config) as tfs:
        assert tfs.signature is config
    assert issubclass(InvalidArgumentError, TFServingError)
