"""models.config parses as a TF Serving ModelServerConfig and serves both versions with their labels."""
from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from pets.serving_config import write_config


def _parse(path: Path) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(path.read_text(encoding="utf-8"), model_server_config_pb2.ModelServerConfig())


def test_built_config_lists_both_versions_and_labels(pets_build_dir):
    config = _parse(pets_build_dir / "models.config")
    (model,) = config.model_config_list.config
    assert model.name == "pets"
    assert model.model_platform == "tensorflow"
    assert Path(model.base_path).is_absolute()
    assert Path(model.base_path) == pets_build_dir.resolve()
    assert list(model.model_version_policy.specific.versions) == [1, 2]
    assert dict(model.version_labels) == {"stable": 1, "canary": 2}
    for version in (1, 2):
        assert (Path(model.base_path) / str(version) / "saved_model.pb").is_file()


def test_relative_output_is_written_as_absolute_base_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = write_config(Path("models.config"), Path("out/pets"), [2, 1])
    model = _parse(tmp_path / "models.config").model_config_list.config[0]
    assert model.base_path == str(tmp_path.resolve() / "out" / "pets")
    assert list(model.model_version_policy.specific.versions) == [1, 2]
    assert 'base_path: "' + str(tmp_path.resolve() / "out" / "pets") + '"' in text
