"""The model repository's state machine, with a fake loader (no TensorFlow models, no server)."""
from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.errors import InvalidArgument, NotFound
from serving.repository import ModelRepository


class FakeLoader:
    """Loads any version dir containing a file named OK; records what it was asked to load."""

    def __init__(self):
        self.loaded: list[tuple[str, int]] = []
        self.paths: list[Path] = []

    def __call__(self, name: str, version: int, path: Path):
        self.loaded.append((name, version))
        self.paths.append(path)
        if not (path / "OK").exists():
            raise NotFound(f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {path}")
        return f"{name}:{version}"


def config(base: Path, extra: str = "") -> list:
    text = f'name: "m" base_path: "{base}" {extra}'
    return [text_format.Parse(text, model_server_config_pb2.ModelConfig())]


def add_version(base: Path, version: int, ok: bool = True) -> None:
    (base / str(version)).mkdir(parents=True)
    if ok:
        (base / str(version) / "OK").touch()


def states(repo: ModelRepository) -> dict[int, tuple[str, str]]:
    return {s.version: (s.state, s.error_code) for s in repo.version_states("m")}


@pytest.fixture
def repo_and_loader():
    loader = FakeLoader()
    return ModelRepository(loader=loader), loader


def test_latest_policy_serves_the_newest_and_ends_the_rest(tmp_path, repo_and_loader):
    repo, loader = repo_and_loader
    for v in (1, 2):
        add_version(tmp_path, v)
    repo.apply_config(config(tmp_path))
    repo.reconcile()
    assert states(repo) == {2: ("AVAILABLE", "OK")} and loader.loaded == [("m", 2)]
    add_version(tmp_path, 3)
    repo.reconcile()
    assert states(repo) == {3: ("AVAILABLE", "OK"), 2: ("END", "OK")}
    assert repo.resolve("m") == "m:3"
    with pytest.raises(NotFound, match=r"^Servable not found for request: Specific\(m, 2\)$"):
        repo.resolve("m", version=2)


def test_failed_version_is_reported_and_retried_only_after_it_reappears(tmp_path, repo_and_loader):
    repo, loader = repo_and_loader
    add_version(tmp_path, 1, ok=False)
    repo.apply_config(config(tmp_path))
    repo.reconcile()
    repo.reconcile()
    assert states(repo) == {1: ("END", "NOT_FOUND")} and loader.loaded == [("m", 1)]  # not retried in a loop
    [state] = repo.version_states("m")
    assert state.error_message.startswith("Could not find SavedModel .pb or .pbtxt")
    (tmp_path / "1").rename(tmp_path / "away")
    repo.reconcile()
    (tmp_path / "away" / "OK").touch()
    (tmp_path / "away").rename(tmp_path / "1")
    repo.reconcile()
    assert states(repo) == {1: ("AVAILABLE", "OK")} and loader.loaded == [("m", 1), ("m", 1)]


def test_labels_point_only_at_available_versions(tmp_path, repo_and_loader):
    repo, _ = repo_and_loader
    for v in (1, 2):
        add_version(tmp_path, v)
    labels = 'model_version_policy { all {} } version_labels { key: "stable" value: 1 } '
    repo.apply_config(config(tmp_path, labels + 'version_labels { key: "canary" value: 3 }'))
    repo.reconcile()
    assert repo.resolve("m", label="stable") == "m:1"
    with pytest.raises(InvalidArgument, match="^Unrecognized servable version label: canary$"):
        repo.resolve("m", label="canary")  # version 3 does not exist
    repo.apply_config(config(tmp_path, labels + 'version_labels { key: "canary" value: 2 }'))
    repo.reconcile()
    assert repo.resolve("m", label="canary") == "m:2"
    repo.apply_config(config(tmp_path, 'model_version_policy { all {} } version_labels { key: "stable" value: 9 }'))
    repo.reconcile()
    assert repo.resolve("m", label="stable") == "m:1"  # keeps its old, available target


def test_specific_policy_and_removal_from_the_config(tmp_path, repo_and_loader):
    repo, _ = repo_and_loader
    for v in (1, 2, 3):
        add_version(tmp_path, v)
    repo.apply_config(config(tmp_path, "model_version_policy { specific { versions: 1 versions: 3 } }"))
    repo.reconcile()
    assert states(repo) == {3: ("AVAILABLE", "OK"), 1: ("AVAILABLE", "OK")}
    repo.apply_config([])
    repo.reconcile()
    assert states(repo) == {3: ("END", "OK"), 1: ("END", "OK")}  # statuses stay visible, as END
    assert repo.model_names() == []
    with pytest.raises(NotFound, match=r"^Servable not found for request: Latest\(m\)$"):
        repo.resolve("m")
    with pytest.raises(NotFound, match="^Could not find any versions of model other$"):
        repo.version_states("other")


def test_knows_only_configured_models_and_versions_seen_on_disk(tmp_path, repo_and_loader):
    repo, _ = repo_and_loader
    add_version(tmp_path, 1)
    add_version(tmp_path, 2, ok=False)  # failed versions are still known: they have a status
    repo.apply_config(config(tmp_path, "model_version_policy { all {} }"))
    repo.reconcile()
    assert [repo.knows("m"), repo.knows("m", 1), repo.knows("m", 2), repo.knows("m", 3), repo.knows("x")] == [
        True, True, True, False, False]


def test_zero_padded_version_folders_are_int64_versions_loaded_from_their_own_folder(tmp_path, repo_and_loader):
    repo, loader = repo_and_loader
    for folder in ("00000123", "00000124", "7", "x9", "9223372036854775808", "\u00b2"):  # the last two: not int64
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "OK").touch()
    (tmp_path / "007").mkdir()  # a second folder for version 7: the first in name order ("007") wins
    (tmp_path / "007" / "OK").touch()
    repo.apply_config(config(tmp_path, "model_version_policy { all {} }"))
    repo.reconcile()
    assert states(repo) == {124: ("AVAILABLE", "OK"), 123: ("AVAILABLE", "OK"), 7: ("AVAILABLE", "OK")}
    assert sorted(loader.paths) == [tmp_path / "00000123", tmp_path / "00000124", tmp_path / "007"]
