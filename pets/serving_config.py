"""Write the TF Serving ModelServerConfig (text format) that serves both pets versions."""
from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from pets import MODEL_NAME, VERSION_LABELS


def pets_server_config(base_path: Path, versions) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = MODEL_NAME
    # TF Serving resolves base_path against its own working directory, so write it absolute.
    model.base_path = str(Path(base_path).resolve())
    model.model_platform = "tensorflow"
    model.model_version_policy.specific.versions.extend(sorted(versions))
    for label, version in VERSION_LABELS.items():
        model.version_labels[label] = version
    return config


def write_config(path: Path, base_path: Path, versions) -> str:
    text = text_format.MessageToString(pets_server_config(base_path, versions))
    Path(path).write_text(text, encoding="utf-8")
    return text
