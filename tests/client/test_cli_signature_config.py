"""The CLI against a server without TF Serving's metadata API (a KServe predict-only route): --signature-config
supplies the signature and class names; bad names and a bad config file are usage errors (exit 2)."""
from __future__ import annotations

import csv
import io
import json

import pytest

from client.cli import EXIT_OK, EXIT_SERVER, EXIT_USAGE, main
from tests.client.conftest import png_bytes
from tests.client.test_configured_signature import COLOURS, predict_only


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, colour in COLOURS.items():
        (folder / f"{name}.png").write_bytes(png_bytes(colour))
    return folder


def test_signature_config_file_lets_the_cli_classify_without_metadata(fake_server, photos, tmp_path, capsys):
    server = fake_server(predict_only())
    config = tmp_path / "signature.json"
    config.write_text(json.dumps({"class_names": ["cat", "dog", "other"]}))
    code = main(["classify", str(photos), "--url", server.url, "--signature-config", str(config),
                 "--no-progress", "--retries", "0"])
    assert code == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((row["source"].rsplit("/", 1)[-1], row["top_class"]) for row in rows) == [
        ("cat.png", "cat"), ("dog.png", "dog"), ("other.png", "other")]


def test_without_signature_config_the_same_server_is_a_signature_error(fake_server, photos, capsys):
    server = fake_server(predict_only())
    code = main(["classify", str(photos), "--url", server.url, "--no-progress", "--retries", "0"])
    assert code == EXIT_SERVER
    assert "SignatureError" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"),
    (json.dumps({"class_names": ["cat"], "colour": "red"}), "unknown keys"),
    (json.dumps(["cat", "dog"]), "must be a JSON object"),
])
def test_a_bad_signature_config_is_a_usage_error_naming_it(tmp_path, photos, capsys, content, message):
    config = tmp_path / "signature.json"
    config.write_text(content)
    code = main(["classify", str(photos), "--url", "http://127.0.0.1:9", "--signature-config", str(config)])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--signature-config" in err and message in err


@pytest.mark.parametrize("option", [["--label", "a,,b"], ["--label", "../x"], ["--model", "a b"],
                                    ["--url", "htp:/x"]])
def test_bad_names_and_urls_are_usage_errors_before_anything_is_sent(photos, capsys, option):
    code = main(["classify", str(photos), "--no-progress", *option])
    assert code == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: ")
