"""The session's keys and typed accessors: pages never read or write st.session_state themselves.

Widget keys carry their page's prefix (sidebar_, classify_, compare_, models_, history_). The sidebar lives in
the entry script, so its widgets are drawn on every page and keep their values across page switches.
"""
from __future__ import annotations

import gc
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from client import ModelProfile
from dashboard import config
from dashboard.runs.inspector import Inspector
from dashboard.runs.manager import RunManager
from dashboard.runs.visitor import VisitorManager
from dashboard.server.connection import open_client
from client.store import Datasets, ImageStore, open_image_store
from client.store.blobs import blobs_location
from client.store.database import Store, StoreError, database_url, open_store
from client.store.images import QUOTA_VARIABLE
from dashboard.server.profiles import ProfileChooser, ProfileFolder, configured_folder
from dashboard.ui import access

LOG = logging.getLogger("servescope.dashboard")

RunPage = Literal["classify", "compare"]

SERVER = "sidebar_server"            # name of the configured server picked, or CUSTOM
CUSTOM_URL = "sidebar_custom_url"    # only drawn when the operator allows free-text URLs
MODEL = "sidebar_model"
LABELS = "sidebar_labels"
CUSTOM = "custom URL…"


@dataclass(frozen=True)
class Connection:
    server: str                      # the configured server's name (or CUSTOM)
    url: str
    model: str
    labels: tuple[str, ...]


def init() -> None:
    """Defaults for every key; run by the entry script before any page."""
    defaults: dict[str, Any] = {MODEL: config.default_model(), LABELS: ", ".join(config.default_labels())}
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def connection() -> Connection:
    """What the sidebar says, checked; raises config.FieldError naming the field that cannot be used."""
    servers = {server.name: server.url for server in config.configured_servers()}
    chosen = st.session_state.get(SERVER) or next(iter(servers))
    if chosen == CUSTOM and config.custom_url_allowed():
        url = config.check_url(st.session_state.get(CUSTOM_URL) or "", "TF Serving URL")
    else:
        chosen = chosen if chosen in servers else next(iter(servers))
        url = servers[chosen]
    model = config.check_name(str(st.session_state.get(MODEL) or ""), "Model name")
    return Connection(chosen, url, model, config.parse_labels(str(st.session_state.get(LABELS) or "")))


RUN_SESSION = "run_session_id"       # this browser session's id, stored with its runs ("this session only")


@st.cache_resource(show_spinner=False)
def _store_at(url: str) -> Store:
    return open_store(url)


def run_store() -> Store:
    """The app's run store (SERVESCOPE_DB, else the default SQLite file), one per database per process.
    Raises client.store.database.StoreError when it cannot be opened (not cached: the next call tries again)."""
    return _store_at(database_url())


@st.cache_resource(show_spinner=False)
def _images_at(url: str, location: str, quota: str) -> ImageStore:
    return open_image_store(_store_at(url), location)


def image_store() -> ImageStore:
    """The image store of the app's run store (SERVESCOPE_BLOBS, SERVESCOPE_BLOBS_QUOTA_MB), one per process.
    Raises StoreError when it cannot be opened (a bad quota, a missing package for an object-store URL)."""
    return _images_at(database_url(), blobs_location(), os.environ.get(QUOTA_VARIABLE, ""))


def datasets() -> Datasets:
    """The datasets of the app's run store and image store (client.store.datasets); raises StoreError as
    image_store does."""
    return Datasets(run_store(), image_store())


def _images_or_none() -> ImageStore | None:
    try:
        return image_store()
    except StoreError:
        LOG.exception("the image store cannot be opened: runs keep no images")
        return None


def session_id() -> str:
    return st.session_state.setdefault(RUN_SESSION, uuid.uuid4().hex)


@st.cache_resource(show_spinner=False)
def _manager_at(url: str) -> RunManager:
    # Clients carry the operator's signature (SERVESCOPE_SIGNATURE) and report to the request inspector.
    manager = RunManager(_store_at(url), client_factory=open_client, on_client=_inspector().attach,
                         images=_images_or_none())
    # Python's collector walks every tracked object in each full collection; the many objects of the loaded
    # libraries live as long as the process: freeze them once, so collections (and the threads they hold the GIL
    # from, such as a run's) skip them. (.streamlit/config.toml turns Streamlit's own collection after every
    # script run off.)
    gc.collect()
    gc.freeze()
    return manager


def run_manager() -> VisitorManager | RunManager:
    """The app's RunManager (one per database per process): its runs outlive the page and session that started
    them. On a page it acts for this visitor (dashboard.runs.visitor: the runs started are this browser's; cancel,
    retry and reuse are checked); outside a script run (a test, a script) it is the manager itself. Raises
    client.store.database.StoreError when the store cannot be opened."""
    manager = _manager_at(database_url())
    if get_script_run_ctx(suppress_warning=True) is None:
        return manager
    return VisitorManager(manager, access.actor())


COMPARE_REQUEST = "compare_request_run"   # a Classify run whose images Compare should run again ("Compare with…")
COMPARISON = "compare_comparison_id"      # the comparison the Compare page shows when the URL names none


def request_compare(run_id: str) -> None:
    """Classify's "Compare with…": set before st.switch_page("app_pages/compare.py")."""
    st.session_state[COMPARE_REQUEST] = run_id


def compare_request() -> str | None:
    return st.session_state.get(COMPARE_REQUEST)


def clear_compare_request() -> None:
    st.session_state.pop(COMPARE_REQUEST, None)


def shown_comparison() -> str | None:
    return st.session_state.get(COMPARISON)


def show_comparison(comparison_id: str | None) -> None:
    st.session_state[COMPARISON] = comparison_id


# -- background runs (dashboard.runs.manager) -------------------------------------------------------------
SESSION_RUNS = "run_session_runs"    # ids of the runs this session started, oldest first (the sidebar watches them)


def _current_run_key(page: RunPage) -> str:
    return f"{page}_current_run"     # the stored run the page shows (started here, or opened by ?run=)


@st.cache_resource(show_spinner=False)
def _inspector() -> Inspector:
    return Inspector()


def request_inspector() -> Inspector:
    """What every run of this process said to the model server (dashboard.runs.inspector), bounded. A page shows
    a run's log only to a visitor who may see it (dashboard.runs.ownership.Actor.may_see_private)."""
    return _inspector()


def current_run(page: RunPage) -> str | None:
    return st.session_state.get(_current_run_key(page))


def set_current_run(page: RunPage, run_id: str | None, *, started_here: bool = False) -> None:
    st.session_state[_current_run_key(page)] = run_id
    if started_here and run_id is not None:
        st.session_state[SESSION_RUNS] = [*session_runs(), run_id]


def session_runs() -> list[str]:
    return list(st.session_state.get(SESSION_RUNS, []))


# -- model profiles (dashboard.server.profiles) ---------------------------------------------------------------
SESSION_PROFILES = "models_session_profiles"   # model name -> this session's ModelProfile (the profile editor)


@st.cache_resource(show_spinner=False)
def _profile_folder(path: str) -> ProfileFolder:
    return ProfileFolder(Path(path))


def profile_folder() -> ProfileFolder | None:
    """The operator's SERVESCOPE_PROFILES folder (one per process, read again when it changes); None when unset."""
    path = configured_folder()
    return _profile_folder(str(path)) if path is not None else None


def session_profile(model: str) -> ModelProfile | None:
    """The profile this browser session set for `model` in the profile editor (None: none)."""
    return (st.session_state.get(SESSION_PROFILES) or {}).get(model)


def set_session_profile(model: str, profile: ModelProfile | None) -> None:
    """Use `profile` for `model` in this browser session only (None: stop using one)."""
    profiles = dict(st.session_state.get(SESSION_PROFILES) or {})
    if profile is None:
        profiles.pop(model, None)
    else:
        profiles[model] = profile
    st.session_state[SESSION_PROFILES] = profiles


def profile_chooser(model: str) -> ProfileChooser:
    """How this session's runs of `model` pick their profile: the session's, the operator's folder, built-in."""
    return ProfileChooser(model, profile_folder(), session_profile(model))
