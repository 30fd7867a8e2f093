"""Model profiles as the dashboard finds them, and which one a run uses.

Where a profile comes from, first found first:
1. the session's own (the profile editor, dashboard.ui.profile_editor): this browser session only;
2. the operator's folder `SERVESCOPE_PROFILES`: `<model>.<version>.json` for one version, else `<model>.json`;
3. the built-in profile of the demo model (BUILT_IN: pets is prepared by its own preset);
4. none: a pixel model then gets the default preparation, and the run says it was assumed (client.plan).

The folder is read when first asked and again whenever it changes (a file added, removed or rewritten, or a
class-names file a profile reads). A file that cannot be used is a ProfileProblem naming the file and the key
(client.profile's InvalidArgumentError field), never an exception on a page; a run whose profile file is bad is
refused before anything is sent (ProfileFileError). Pure (no streamlit).
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from client import InvalidArgumentError, ModelProfile
from client.store.records import NO_PROFILE_ORIGIN, RunProfile

if TYPE_CHECKING:
    from dashboard.targets import Target

__all__ = ["BUILT_IN", "NO_PROFILE", "NO_PROFILE_ORIGIN", "PROFILES_SETTING", "SESSION_ORIGIN", "ProfileCatalog",
           "ProfileChoice", "ProfileChooser", "ProfileFileError", "ProfileFolder", "ProfileProblem",
           "configured_folder", "describe_profile", "short_digest"]

PROFILES_SETTING = "SERVESCOPE_PROFILES"
SESSION_ORIGIN = "this session (profile editor)"
TARGET_ORIGIN = "the comparison's target"   # a target that carries its own profile (dashboard.targets.Target)
# The demo model decodes and prepares its images itself (a DT_STRING input): its preset says so for its pixel
# signature too, so its runs are never "assumed".
BUILT_IN: Mapping[str, ModelProfile] = MappingProxyType({"pets": ModelProfile.preset("pets")})
MAX_FILES = 1000   # profile files read from the folder; the rest are a problem of their own
_VERSIONED = re.compile(r"^(?P<model>.+)\.(?P<version>\d+)\.json$")


@dataclass(frozen=True)
class ProfileProblem:
    """Why a profile cannot be used: the file (or setting) and the key, in plain words."""
    file: str
    field: str       # the key's path ("input.std", "class_names"); "profile" for the file as a whole
    reason: str

    @property
    def text(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


class ProfileFileError(ValueError):
    """A run's profile cannot be used (ProfileProblem.text): the run is refused before anything is sent."""

    def __init__(self, problem: ProfileProblem) -> None:
        self.problem = problem
        super().__init__(f"the model profile cannot be used: {problem.text}")


def short_digest(digest: str | None) -> str:
    """"sha256:1a2b3c4d5e6f" (the first 12 hex digits) of a "sha256:<hex>" digest; "" for None."""
    if not digest:
        return ""
    kind, _, value = digest.partition(":")
    return f"{kind}:{value[:12]}" if value else digest[:19]


def _names_text(names: Any) -> str:
    names = [str(n) for n in names or ()]
    shown = ", ".join(names[:4]) + (f", … ({len(names)} in all)" if len(names) > 4 else "")
    return f"classes {shown}"


def describe_profile(data: Mapping[str, Any] | None) -> str:
    """One plain line for a profile as given (its JSON): the preset, the input settings it changes, its classes and
    its output, e.g. "preset keras-tf; classes Cat, Dog; output dense as sigmoid"."""
    if data is None:
        return "no profile"
    parts = [f"preset {data.get('preset', 'pets')}" + ("" if "preset" in data else " (default)")]
    given = data.get("input") or {}
    if given:
        parts.append("input " + ", ".join(f"{key} {_value_text(value)}" for key, value in given.items()))
    if data.get("class_names"):
        parts.append(_names_text(data["class_names"]))
    elif data.get("class_names_file"):
        parts.append(f"classes from {data['class_names_file']}")
    output = data.get("output") or {}
    if output:
        parts.append("output " + (f"{output['name']} " if "name" in output else "")
                     + (f"as {output['kind']}" if "kind" in output else "").strip())
    if data.get("signature_name"):
        parts.append(f"signature {data['signature_name']}")
    return "; ".join(part.strip() for part in parts)


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class ProfileChoice:
    """The profile a run uses and where it came from; `profile` None: none was found (the default is assumed for
    pixel inputs). `problem`: the profile that applies cannot be used (the run is refused)."""
    profile: ModelProfile | None
    origin: str
    problem: ProfileProblem | None = None

    def checked(self) -> "ProfileChoice":
        """Itself, or ProfileFileError when its profile cannot be used."""
        if self.problem is not None:
            raise ProfileFileError(self.problem)
        return self


NO_PROFILE = ProfileChoice(None, NO_PROFILE_ORIGIN)


@dataclass(frozen=True)
class ProfileCatalog:
    """What the operator's folder held when it was read: file name -> profile, file name -> problem."""
    folder: Path | None = None
    profiles: Mapping[str, ModelProfile] = field(default_factory=dict)
    problems: Mapping[str, ProfileProblem] = field(default_factory=dict)
    folder_problem: ProfileProblem | None = None   # the setting itself cannot be used (not a folder, unreadable)

    def origin(self, file_name: str) -> str:
        return f"{PROFILES_SETTING}/{file_name}"

    @property
    def key(self) -> tuple:
        """What it holds, as a hashable value (two catalogs with one key choose alike)."""
        return (str(self.folder), tuple((name, profile.digest) for name, profile in sorted(self.profiles.items())),
                tuple(sorted(problem.text for problem in self.problems.values())),
                self.folder_problem.text if self.folder_problem else None)

    def file_for(self, model: str, version: int | None) -> str | None:
        """The file that applies to the model's version (`<model>.<version>.json`, else `<model>.json`), None when
        the folder has neither."""
        names = [f"{model}.{version}.json"] if version is not None else []
        for name in [*names, f"{model}.json"]:
            if name in self.profiles or name in self.problems:
                return name
        return None

    def has_version_files(self, model: str) -> bool:
        """Whether some version of `model` has a file of its own (the choice then waits for the version)."""
        return any((found := _VERSIONED.match(name)) and found["model"] == model
                   for name in (*self.profiles, *self.problems))

    def choose(self, model: str, version: int | None) -> ProfileChoice | None:
        """The folder's profile for the model's version, None when it has none."""
        name = self.file_for(model, version)
        if name is None:
            return None
        if name in self.problems:
            return ProfileChoice(None, self.origin(name), self.problems[name])
        return ProfileChoice(self.profiles[name], self.origin(name))


def configured_folder(environ: Mapping[str, str] = os.environ) -> Path | None:
    """SERVESCOPE_PROFILES as a path; None when unset."""
    text = (environ.get(PROFILES_SETTING) or "").strip()
    return Path(text).expanduser() if text else None


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


class ProfileFolder:
    """The operator's folder of profiles, read again whenever it changes (thread-safe; one per folder per process)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple | None = None
        self._catalog = ProfileCatalog(self.path)
        self._dependencies: tuple[Path, ...] = ()

    def _fingerprint(self) -> tuple:
        try:
            entries = sorted((entry.name, _stat(Path(entry.path))) for entry in os.scandir(self.path))
        except OSError as exc:
            return ("unreadable", type(exc).__name__, exc.strerror)
        return tuple(entries), tuple((str(path), _stat(path)) for path in self._dependencies)

    def catalog(self) -> ProfileCatalog:
        """The folder's profiles and problems as they are now (read again only when something changed)."""
        with self._lock:
            seen = self._fingerprint()
            if seen != self._seen:
                self._catalog, self._dependencies = self._read()
                self._seen = self._fingerprint()
            return self._catalog

    def _read(self) -> tuple[ProfileCatalog, tuple[Path, ...]]:
        try:
            if not self.path.is_dir():
                problem = ProfileProblem(PROFILES_SETTING, PROFILES_SETTING, f"{self.path} is not a folder")
                return ProfileCatalog(self.path, folder_problem=problem), ()
            names = sorted(entry.name for entry in os.scandir(self.path)
                           if entry.name.endswith(".json") and not entry.name.startswith(".") and entry.is_file())
        except OSError as exc:
            problem = ProfileProblem(PROFILES_SETTING, PROFILES_SETTING,
                                     f"{self.path} cannot be read ({exc.strerror or type(exc).__name__})")
            return ProfileCatalog(self.path, folder_problem=problem), ()
        profiles: dict[str, ModelProfile] = {}
        problems: dict[str, ProfileProblem] = {}
        dependencies = []
        for name in names[:MAX_FILES]:
            try:
                profile = ModelProfile.from_file(self.path / name)
            except InvalidArgumentError as exc:
                reason = exc.reason.removesuffix(f" (in {self.path / name})")
                problems[name] = ProfileProblem(name, exc.field, f"{reason} (value {_shown(exc.value)})"
                                                if exc.value is not None and exc.field != "profile" else reason)
                continue
            profiles[name] = profile
            names_file = profile.to_dict().get("class_names_file")
            if names_file:
                dependencies.append(self.path / names_file)
        for name in names[MAX_FILES:]:
            problems[name] = ProfileProblem(name, "profile", f"not read: the folder holds more than {MAX_FILES} "
                                                             "profile files")
        return ProfileCatalog(self.path, MappingProxyType(profiles), MappingProxyType(problems)), tuple(dependencies)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class ProfileChooser:
    """How a run picks its profile once it knows the version that answers (see the module's order): the session's
    profile, else the operator's folder as it is when the run starts, else the built-in one. `fixed`: a choice
    made already (a retry keeps the profile the run stored)."""
    model: str
    folder: ProfileFolder | None = None
    session: ModelProfile | None = None
    fixed: ProfileChoice | None = None

    @property
    def catalog(self) -> ProfileCatalog | None:
        return self.folder.catalog() if self.folder is not None else None

    @property
    def key(self) -> tuple:
        """What it would choose from, as a hashable value (for caches of what a choice leads to)."""
        fixed = None if self.fixed is None else (self.fixed.origin, self.fixed.profile.digest if self.fixed.profile
                                                 else None, self.fixed.problem)
        catalog = self.catalog
        return (self.model, self.session.digest if self.session else None, catalog.key if catalog else None, fixed)

    @property
    def depends_on_version(self) -> bool:
        """Whether the choice can differ between versions of the model (a version has a file of its own)."""
        if self.fixed is not None or self.session is not None or self.folder is None:
            return False
        return self.folder.catalog().has_version_files(self.model)

    def choose(self, version: int | None = None) -> ProfileChoice:
        """The profile for `version` of the model (None: not known; the model's own file applies)."""
        if self.fixed is not None:
            return self.fixed
        if self.session is not None:
            return ProfileChoice(self.session, SESSION_ORIGIN)
        catalog = self.catalog
        if catalog is not None and catalog.folder_problem is not None:
            return ProfileChoice(None, PROFILES_SETTING, catalog.folder_problem)
        found = catalog.choose(self.model, version) if catalog is not None else None
        if found is not None:
            return found
        if self.model in BUILT_IN:
            return ProfileChoice(BUILT_IN[self.model], f"built-in profile of {self.model}")
        return NO_PROFILE

    def for_target(self, target: "Target") -> "ProfileChooser":
        """The chooser of a run of `target`: a target that carries its own model profile (a comparison of
        preparations, dashboard.skew) is classified with that profile whatever else applies; any other target
        chooses as this chooser does."""
        if target.profile is None:
            return self
        return ProfileChooser(self.model, fixed=ProfileChoice(target.profile, f"{TARGET_ORIGIN} ({target.describe()})"))

    @classmethod
    def stored(cls, model: str, profile: RunProfile | None) -> "ProfileChooser":
        """The profile a stored run used, for a retry of its failed rows (none stored: chosen as at first)."""
        if profile is None or profile.origin == NO_PROFILE_ORIGIN:
            return cls(model, fixed=NO_PROFILE)
        try:
            again = ModelProfile.from_dict(dict(profile.data))
        except InvalidArgumentError as exc:
            problem = ProfileProblem(profile.origin or "the stored profile", exc.field, exc.reason)
            return cls(model, fixed=ProfileChoice(None, profile.origin or "stored", problem))
        return cls(model, fixed=ProfileChoice(again, profile.origin or "stored with the run"))
