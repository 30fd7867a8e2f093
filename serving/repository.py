"""The model repository: models keyed by name, each with versions that move START→LOADING→AVAILABLE→UNLOADING→END.

`reconcile()` compares each model's base path with its version policy, loads what is aspired and not yet
served, unloads what is served and no longer aspired, then applies version labels (which may only point at
AVAILABLE versions). Requests resolve a servable through `resolve()`, with TF Serving's error wording.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from serving.config import ModelConfig, aspired_versions
from serving.errors import InvalidArgument, NotFound, status_of
from serving.loader import LoadedVersion, load_version

log = logging.getLogger("serving.repository")

START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"


@dataclass
class VersionState:
    version: int
    state: str = START
    error_code: str = "OK"
    error_message: str = ""
    servable: Optional[LoadedVersion] = None


class ManagedModel:
    def __init__(self, config: ModelConfig):
        self.config = config
        self.versions: dict[int, VersionState] = {}
        self.labels: dict[str, int] = {}
        self.failed: set[int] = set()
        self.removed = False  # dropped from the config: nothing is loaded, statuses are kept

    def available(self) -> dict[int, LoadedVersion]:
        return {v: s.servable for v, s in self.versions.items() if s.state == AVAILABLE and s.servable}


_VERSION_DIR = re.compile(r"[0-9]+")
MAX_VERSION = 2**63 - 1  # versions are int64, in folder names as in TF Serving's ModelSpec


def versions_on_disk(base_path: Path) -> dict[int, Path]:
    """Version -> its directory, for the numeric sub-directories of a model's base path.

    Like TF Serving, the folder name is parsed as an int64, so `00000123` is version 123 and keeps its own
    folder. Anything else (non-ASCII digits, values over int64) is ignored; when two folders name the same
    version ("7" and "007"), the first in name order wins and the other is logged.
    """
    try:
        entries = sorted(base_path.iterdir())
    except OSError:
        return {}
    found: dict[int, Path] = {}
    for entry in entries:
        if not _VERSION_DIR.fullmatch(entry.name) or int(entry.name) > MAX_VERSION or not entry.is_dir():
            continue
        version = int(entry.name)
        if version in found:
            log.warning("ignoring %s: version %d is already served from %s", entry, version, found[version])
            continue
        found[version] = entry
    return dict(sorted(found.items()))


class ModelRepository:
    def __init__(self, loader: Callable[[str, int, Path], LoadedVersion] = load_version):
        self._loader = loader
        self._models: dict[str, ManagedModel] = {}
        self._lock = threading.RLock()  # guards the dicts; loading itself happens outside it
        self._reconcile_lock = threading.Lock()  # one reconcile pass at a time

    # ---- configuration -------------------------------------------------------------------------------
    def apply_config(self, configs: list[ModelConfig]) -> None:
        """Add new models, update existing ones (policy, labels), end the versions of models no longer listed."""
        wanted = {c.name: c for c in configs}
        with self._lock:
            for name, model in self._models.items():
                if name not in wanted and not model.removed:
                    # Like TF Serving's state monitor, the model's versions stay visible, as END.
                    log.info("model %s removed from the config; unloading all versions", name)
                    model.removed, model.labels = True, {}
                    for state in model.versions.values():
                        self._end(name, state)
            for name, config in wanted.items():
                if name in self._models:
                    self._models[name].config, self._models[name].removed = config, False
                else:
                    self._models[name] = ManagedModel(config)

    def model_names(self) -> list[str]:
        """Models in the current config."""
        with self._lock:
            return sorted(name for name, model in self._models.items() if not model.removed)

    # ---- the load/unload loop ------------------------------------------------------------------------
    def reconcile(self) -> None:
        with self._reconcile_lock:
            for name in self.model_names():
                with self._lock:
                    model = self._models.get(name)
                if model is not None and not model.removed:
                    self._reconcile_model(name, model)

    def _reconcile_model(self, name: str, model: ManagedModel) -> None:
        base_path = Path(model.config.base_path)
        on_disk = versions_on_disk(base_path)
        wanted = aspired_versions(model.config, list(on_disk))
        with self._lock:
            served = {v for v, s in model.versions.items() if s.state in (START, LOADING, AVAILABLE)}
            # A version that failed to load is retried only once its directory went away and came back.
            model.failed &= set(on_disk)
            failed = set(model.failed)
        for version in sorted(served - wanted):
            self._end(name, model.versions[version])
        to_load = sorted(wanted - served - failed, reverse=True)  # newest first: it is what "latest" serves
        with self._lock:
            for version in to_load:  # queued versions show as START until their turn
                model.versions[version] = VersionState(version=version, state=START)
        for version in to_load:
            self._load(name, model, version, on_disk[version])
        self._apply_labels(name, model)

    def _load(self, name: str, model: ManagedModel, version: int, path: Path) -> None:
        with self._lock:
            state = model.versions[version]
            if state.state != START:  # ended (model removed from the config) before its turn
                return
            state.state = LOADING
        log.info("loading servable {name: %s version: %d} from %s", name, version, path)
        try:
            servable = self._loader(name, version, path)
        except Exception as exc:  # a broken version must never take the server down
            code, message = status_of(exc)
            if code == "INTERNAL":
                code = "UNKNOWN"
            with self._lock:
                state.state, state.error_code, state.error_message = END, code, message
                model.failed.add(version)
            log.error("loading servable {name: %s version: %d} failed: %s", name, version, message)
            return
        with self._lock:
            if state.state != LOADING:  # the model left the config while this version was loading
                log.info("servable {name: %s version: %d} was unloaded while loading", name, version)
                return
            state.servable, state.state = servable, AVAILABLE
        log.info("servable {name: %s version: %d} is AVAILABLE", name, version)

    def _end(self, name: str, state: VersionState) -> None:
        with self._lock:
            if state.state == END:
                return
            state.state = UNLOADING
        log.info("unloading servable {name: %s version: %d}", name, state.version)
        with self._lock:  # in-flight requests keep their own reference; dropping ours releases the model
            state.servable = None
            state.state = END

    def _apply_labels(self, name: str, model: ManagedModel) -> None:
        """Labels may only point at AVAILABLE versions; a label whose target is not ready keeps its old value."""
        with self._lock:
            available = model.available()
            labels = {}
            for label, version in model.config.version_labels.items():
                if version in available:
                    labels[label] = version
                elif label in model.labels and model.labels[label] in available:
                    labels[label] = model.labels[label]
                    log.warning("label %s of model %s points at version %d, which is not available; "
                                "keeping it at version %d", label, name, version, model.labels[label])
            model.labels = labels

    # ---- lookups for requests ------------------------------------------------------------------------
    def resolve(self, name: str, version: Optional[int] = None, label: Optional[str] = None) -> LoadedVersion:
        """The servable a request asks for, with TF Serving's errors (InvalidArgument for labels, else NotFound)."""
        with self._lock:
            model = self._models.get(name)
            if label is not None:
                if model is None or label not in model.labels:
                    raise InvalidArgument(f"Unrecognized servable version label: {label}")
                version = model.labels[label]
            available = model.available() if model else {}
            if version is not None:
                if version not in available:
                    raise NotFound(f"Servable not found for request: Specific({name}, {version})")
                return available[version]
            if not available:
                raise NotFound(f"Servable not found for request: Latest({name})")
            return available[max(available)]

    def version_states(self, name: str, version: Optional[int] = None) -> list[VersionState]:
        """Status of all versions (or one), as GetModelStatus reports them."""
        with self._lock:
            model = self._models.get(name)
            states = dict(model.versions) if model else {}
            if version is not None:
                if version not in states:
                    raise NotFound(f"Could not find version {version} of model {name}")
                return [states[version]]
            if not states:
                raise NotFound(f"Could not find any versions of model {name}")
            return [states[v] for v in sorted(states, reverse=True)]  # newest first, like TF Serving

    def knows(self, name: str, version: Optional[int] = None) -> bool:
        """Whether the model (and that version of it) was ever configured or found on disk."""
        with self._lock:
            model = self._models.get(name)
            return model is not None and (version is None or version in model.versions)

    def summary(self) -> dict[str, dict[int, str]]:
        with self._lock:
            return {name: {v: s.state for v, s in m.versions.items()} for name, m in self._models.items()}
