"""ModelServerConfig: read TF Serving's text-format config file, or build one from --model_name/--model_base_path."""
from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

ModelConfig = model_server_config_pb2.ModelConfig


class ConfigError(ValueError):
    """The model server config is unusable; the message names the file and the problem."""


def single_model_config(name: str, base_path: str) -> model_server_config_pb2.ModelServerConfig:
    """What tensorflow_model_server builds from --model_name/--model_base_path (latest version, TF platform)."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    model.base_path = base_path
    model.model_platform = "tensorflow"
    return config


def read_config_file(path: str | Path) -> model_server_config_pb2.ModelServerConfig:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read model config file {path}: {exc.strerror}") from exc
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ConfigError(f"invalid ModelServerConfig text in {path}: {exc}") from exc
    validate(config, source=str(path))
    return config


def validate(config: model_server_config_pb2.ModelServerConfig, *, source: str) -> None:
    """Reject what TF Serving rejects: no model list, unnamed/duplicate models, non-TF platforms."""
    if config.WhichOneof("config") != "model_config_list":
        raise ConfigError(f"{source}: expected a model_config_list (custom_model_config is not supported)")
    seen: set[str] = set()
    for model in config.model_config_list.config:
        if not model.name:
            raise ConfigError(f"{source}: a model config has no name")
        if model.name in seen:
            raise ConfigError(f"{source}: model name {model.name!r} appears twice")
        seen.add(model.name)
        if not model.base_path:
            raise ConfigError(f"{source}: model {model.name!r} has no base_path")
        if model.model_platform not in ("", "tensorflow"):
            raise ConfigError(f"{source}: model {model.name!r}: platform {model.model_platform!r} is not supported "
                              "(only 'tensorflow' SavedModels)")
        policy = model.model_version_policy
        if policy.WhichOneof("policy_choice") == "latest" and policy.latest.num_versions < 0:
            raise ConfigError(f"{source}: model {model.name!r}: latest.num_versions must be >= 1")


def aspired_versions(model: ModelConfig, on_disk: list[int]) -> set[int]:
    """Versions the model's version policy wants served, out of the numeric version dirs found on disk."""
    policy = model.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return set(on_disk)
    if choice == "specific":
        return set(on_disk) & set(policy.specific.versions)
    latest_n = policy.latest.num_versions if choice == "latest" and policy.latest.num_versions else 1
    return set(sorted(on_disk)[-latest_n:])
