"""The session's keys and typed accessors: pages never read or write st.session_state themselves.

Widget keys carry their page's prefix (sidebar_, classify_, compare_, models_, history_). The sidebar lives in
the entry script, so its widgets are drawn on every page and keep their values across page switches.
"""
from __future__ import annotations

import gc
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import config
from dashboard.runs.inspector import Inspector
from dashboard.runs.manager import RunManager
from dashboard.runs.visitor import VisitorManager
from dashboard.server.connection import open_client
from client.profile import ModelProfile
from client.store.database import Store, database_url, open_store
from dashboard.ui import access

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


def session_id() -> str:
    return st.session_state.setdefault(RUN_SESSION, uuid.uuid4().hex)


@st.cache_resource(show_spinner=False)
def _manager_at(url: str) -> RunManager:
    # Clients carry the operator's signature (SERVESCOPE_SIGNATURE) and report to the request inspector.
    manager = RunManager(_store_at(url), client_factory=open_client, on_client=_inspector().attach)
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


# -- model profiles (client.profile) ----------------------------------------------------------------------
PROFILE_PREFIX = "profile:"          # "profile:<model>": the ModelProfile this session classifies <model> with


def session_profile(model: str) -> ModelProfile | None:
    """The model profile this session set for `model` (the skew finder's Apply, a profile editor); None: none set."""
    value = st.session_state.get(PROFILE_PREFIX + model)
    return value if isinstance(value, ModelProfile) else None


def set_session_profile(model: str, profile: ModelProfile | None) -> None:
    """Classify `model` with `profile` in this session from now on (None forgets it)."""
    if profile is None:
        st.session_state.pop(PROFILE_PREFIX + model, None)
    else:
        st.session_state[PROFILE_PREFIX + model] = profile


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
