"""dashboard.server.explain.explain: one sentence and what to do for every class of the client's tree; only TF Serving's
own error text is quoted, bounded; foreign answers and unexpected exceptions reveal nothing of themselves."""
from __future__ import annotations

import logging

import pytest
from werkzeug.wrappers import Response

from client import (InvalidArgumentError, ModelNotFoundError, ServerUnavailableError, SignatureError,
                    TFServingClient, TFServingError, UnexpectedAnswerError)
from client.protocol import model_path
from dashboard.server.explain import explain

URL, MODEL = "http://h:1", "pets"
WHERE = {"method": "GET", "url": "http://h:1/v1/models/pets"}


@pytest.mark.parametrize("exc, expected", [
    (InvalidArgumentError("label", "a,,b", "contains ','"),
     "The version label is not usable: label 'a,,b': contains ','. Correct it in the sidebar and try again."),
    (InvalidArgumentError("base_url", "htp:/x", "must start with http:// or https://"),
     "The TF Serving URL is not usable: base_url 'htp:/x': must start with http:// or https://. "
     "Correct it in the sidebar and try again."),
    (SignatureError("signature 'serving_default' cannot classify images: input 'x' is DT_FLOAT [-1]", **WHERE),
     "Model 'pets' at http://h:1 cannot be used to classify images: signature 'serving_default' cannot classify "
     "images: input 'x' is DT_FLOAT [-1]. Choose another signature or model (the Models page lists every "
     "signature's inputs and outputs)."),
    (ServerUnavailableError("Internal: boom", status=500, **WHERE),
     "The model server at http://h:1 answered with a server error (Internal: boom). It may be starting, overloaded "
     "or failing; try again shortly."),
    (ModelNotFoundError("the answer is not TF Serving's JSON (HTTP 404 Not Found, text/html, 9 bytes)", status=404,
                        foreign_answer=True, **WHERE),
     "The server at http://h:1 does not answer like TF Serving (the answer is not TF Serving's JSON (HTTP 404 Not "
     "Found, text/html, 9 bytes)). Check that the TF Serving URL points at TF Serving's REST port (8501 by "
     "default), with no path after it."),
    (UnexpectedAnswerError("unexpected answer: KeyError: 'version'", status=200, **WHERE),
     "The server at http://h:1 answered, but not with what TF Serving's API promises (unexpected answer: "
     "KeyError: 'version'). Check that the URL points at TF Serving."),
    (TFServingError("Forbidden by policy", status=403, **WHERE),
     "The model server at http://h:1 answered with an error: Forbidden by policy"),
])
def test_each_new_error_has_its_sentence(exc, expected):
    assert explain(exc, URL, MODEL) == expected


def test_server_error_text_is_bounded_to_300_characters():
    message = explain(ModelNotFoundError("x" * 5000, status=404, **WHERE), URL, MODEL)
    assert "x" * 300 + "… (cut; 5000 characters in all)" in message
    assert "x" * 301 not in message


def test_an_unexpected_exception_shows_its_class_only_and_is_logged(caplog):
    with caplog.at_level(logging.ERROR, logger="dashboard.server.explain"):
        message = explain(RuntimeError("/srv/app/secret.py line 3: token=abc"), URL, MODEL)
    assert message == ("Unexpected error (RuntimeError) talking to http://h:1; the details are in the dashboard's "
                       "log. Try again, and report it if it persists.")
    assert "token=abc" in caplog.text


def test_an_internal_resource_behind_the_url_is_never_shown(fake_server):
    """Issue 12 item 6: the URL pointed at some internal text resource; the page must not print it."""
    server = fake_server(lambda request: Response("db_password=hunter2\n", status=200, content_type="text/plain"))
    with TFServingClient(server.url, MODEL, timeout=5, retries=0) as tfs:
        with pytest.raises(TFServingError) as caught:
            tfs.status()
    message = explain(caught.value, server.url, MODEL)
    assert "hunter2" not in message and "hunter2" not in str(caught.value)
    assert "the answer is not TF Serving's JSON (HTTP 200 OK, text/plain, 20 bytes)" in message


@pytest.mark.parametrize("label", ["a,,b", " ../x", "", "ü", "x" * 300])
def test_any_sidebar_label_text_gives_a_sentence_not_a_traceback(label):
    with pytest.raises(TFServingError) as caught:
        model_path(MODEL, label=label)
    assert explain(caught.value, URL, MODEL).startswith("The version label is not usable: label ")
