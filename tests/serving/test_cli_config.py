"""CLI flags (tensorflow_model_server's names and defaults), config parsing and version policies."""
from __future__ import annotations

import subprocess
import sys

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.cli import parse_args
from serving.config import ConfigError, aspired_versions, read_config_file
from tests.support import ROOT


def test_defaults_match_tensorflow_model_server(monkeypatch):
    monkeypatch.delenv("MODEL_NAME", raising=False)
    monkeypatch.delenv("MODEL_BASE_PATH", raising=False)
    args = parse_args(["--model_name=m", "--model_base_path=/models/m"])
    assert (args.rest_api_port, args.host, args.file_system_poll_wait_seconds,
            args.model_config_file_poll_wait_seconds, args.rest_api_timeout_in_ms, args.max_request_bytes) == (
        8501, "127.0.0.1", 1, 0, 30000, 64 * 1024 * 1024)


def test_model_name_and_base_path_come_from_the_environment_like_the_docker_image(monkeypatch):
    monkeypatch.setenv("MODEL_NAME", "pets")
    monkeypatch.setenv("MODEL_BASE_PATH", "/models")
    args = parse_args(["--rest_api_port=9000"])
    assert (args.model_name, args.model_base_path, args.rest_api_port) == ("pets", "/models/pets", 9000)


def test_config_file_overrides_model_name(monkeypatch):
    monkeypatch.setenv("MODEL_NAME", "pets")
    args = parse_args(["--model_config_file=x.config", "--model_name=ignored"])
    assert (args.model_config_file, args.model_name) == ("x.config", None)


@pytest.mark.parametrize("argv, message", [
    ([], "give --model_config_file, or --model_name with --model_base_path"),
    (["--model_name=m"], "--model_base_path is required for --model_name=m"),
    (["--model_name=m", "--model_base_path=/m", "--max_request_bytes=0"], "--max_request_bytes must be positive"),
    (["--model_name=m", "--model_base_path=/m", "--file_system_poll_wait_seconds=-1"],
     "--file_system_poll_wait_seconds must be >= 0"),
])
def test_bad_flags_exit_2_with_a_clear_message(monkeypatch, capsys, argv, message):
    monkeypatch.delenv("MODEL_NAME", raising=False)
    monkeypatch.delenv("MODEL_BASE_PATH", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_config_file_is_parsed_with_the_tf_serving_protos(tmp_path):
    path = tmp_path / "models.config"
    path.write_text('model_config_list { config { name: "a" base_path: "/m/a" model_platform: "tensorflow" '
                    'model_version_policy { specific { versions: 1 versions: 3 } } '
                    'version_labels { key: "stable" value: 1 } } '
                    'config { name: "b" base_path: "/m/b" } }')
    config = read_config_file(path)
    assert isinstance(config, model_server_config_pb2.ModelServerConfig)
    a, b = config.model_config_list.config
    assert (a.name, list(a.model_version_policy.specific.versions), dict(a.version_labels)) == ("a", [1, 3], {"stable": 1})
    assert (b.name, b.base_path) == ("b", "/m/b")


@pytest.mark.parametrize("text, message", [
    ("model_config_list { config { name: 'a' base_path: '/a' } ", "invalid ModelServerConfig text in"),
    ("model_config_list { config { base_path: '/a' } }", "a model config has no name"),
    ("model_config_list { config { name: 'a' base_path: '/a' } config { name: 'a' base_path: '/b' } }",
     "model name 'a' appears twice"),
    ("model_config_list { config { name: 'a' } }", "model 'a' has no base_path"),
    ("model_config_list { config { name: 'a' base_path: '/a' model_platform: 'onnx' } }",
     "platform 'onnx' is not supported"),
])
def test_bad_config_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.config"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        read_config_file(path)
    assert str(path) in str(error.value) and message in str(error.value)


@pytest.mark.slow  # imports TensorFlow in a subprocess
def test_missing_config_file_fails_at_startup_with_exit_code_2(tmp_path):
    missing = tmp_path / "nope.config"
    result = subprocess.run([sys.executable, "-m", "serving", f"--model_config_file={missing}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"error: cannot read model config file {missing}: No such file or directory" in result.stderr


def model(policy_text: str = ""):
    config = model_server_config_pb2.ModelConfig(name="m", base_path="/m")
    if policy_text:
        text_format.Parse(policy_text, config.model_version_policy)
    return config


@pytest.mark.parametrize("policy, expected", [
    ("", {5}),                                   # default: the latest version
    ("latest { num_versions: 2 }", {3, 5}),
    ("all {}", {1, 3, 5}),
    ("specific { versions: 1 versions: 4 }", {1}),  # 4 is not on disk (yet)
])
def test_version_policies(policy, expected):
    assert aspired_versions(model(policy), [1, 3, 5]) == expected


def test_batching_and_warmup_flags_like_tensorflow_model_server(monkeypatch):
    monkeypatch.delenv("MODEL_NAME", raising=False)
    base = ["--model_name=m", "--model_base_path=/m"]
    args = parse_args(base)
    assert (args.enable_batching, args.batching_parameters_file, args.enable_model_warmup) == (False, "", True)
    args = parse_args(base + ["--enable_batching", "--batching_parameters_file=b.txt", "--enable_model_warmup=false"])
    assert (args.enable_batching, args.batching_parameters_file, args.enable_model_warmup) == (True, "b.txt", False)
    assert parse_args(base + ["--enable_batching=true"]).enable_batching is True


def test_missing_batching_parameters_file_names_the_file(tmp_path):
    from serving.batching_config import read_batching_parameters

    with pytest.raises(ConfigError, match=f"^cannot read batching parameters file {tmp_path / 'nope.txt'}: "
                                          "No such file or directory$"):
        read_batching_parameters(tmp_path / "nope.txt")
