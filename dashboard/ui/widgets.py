"""Widgets the pages share: the server picker, page start, selectors, failure lists, column configs.

Every text that came from a file, an archive or a server goes through dashboard.plain before it reaches a
Markdown-rendering element (st.error, st.warning, st.caption...), or is shown with st.text / st.dataframe.
"""
from __future__ import annotations

import logging
import time
from typing import Sequence
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from client import TFServingError
from client.schema import prob_column
from client.sources import Item, Skipped, expand_uploads
from dashboard import config
from dashboard.plain import bullet_list, escape_markdown
from dashboard.server.answer_cache import AnswerCache, describe_age
from dashboard.server.explain import explain
from dashboard.server.overview import SIGNATURES_SHOWN, ModelOverview, fetch_model_overview, fetch_signatures
from client.store.database import Store, StoreError
from dashboard.targets import LATEST, Target, describe_option, target_options
from dashboard.ui import state

LOG = logging.getLogger("servescope.dashboard")


def show_error(message: object, icon: str | None = ":material/error:") -> None:
    """An error box whose text is plain (it may quote a file name or a server's answer), bounded in length."""
    st.error(escape_markdown(message, limit=1200), icon=icon)


def open_run_store(consequence: str = "") -> Store | None:
    """The run store, or None after saying so on the page (one message for every page; the reason goes to the
    log, never a path or URL to the screen). `consequence`: what the page cannot do without it, e.g.
    ", so what the server did is not recorded"."""
    try:
        return state.run_store()
    except StoreError:
        LOG.exception("the run store cannot be opened")
        show_error(f"The run store cannot be opened{consequence}; the dashboard's log says why.")
        return None


# -- sidebar and page start ----------------------------------------------------------------------
def server_sidebar() -> None:
    """The model server (picked from the operator's list), model name and labels; drawn by the entry script."""
    with st.sidebar:
        st.header("Model server")
        try:
            servers = config.configured_servers()
        except config.FieldError as exc:
            show_error(f"Server configuration: {exc}")
            return
        urls = {server.name: server.url for server in servers}
        names = [*urls, *([state.CUSTOM] if config.custom_url_allowed() else [])]
        if st.session_state.get(state.SERVER) not in names:
            st.session_state.pop(state.SERVER, None)  # the operator's list changed since this session began
        if len(names) > 1:
            chosen = st.selectbox("Server", names, key=state.SERVER,
                                  format_func=lambda name: f"{name} ({urls[name]})" if name in urls else name)
        else:
            chosen = names[0]
            st.text(f"{chosen}: {urls[chosen]}")
        if chosen == state.CUSTOM:
            st.text_input("TF Serving URL", key=state.CUSTOM_URL, placeholder="http://host:8501")
        st.text_input("Model name", key=state.MODEL, help="The model's name in the server's config")
        st.text_input("Version labels", key=state.LABELS,
                      help="Comma-separated labels to look up (TF Serving's REST API cannot list them)")


def start_page(title: str) -> state.Connection | None:
    """What every page does first: its title, then the sidebar's connection, or None after showing which field
    cannot be used (the page then shows nothing that needs a server)."""
    st.title(title)
    try:
        return state.connection()
    except config.FieldError as exc:
        show_error(exc, icon=":material/edit_off:")
        return None


@st.cache_resource
def _answers() -> AnswerCache:
    """Server answers shared by every session of this process (the server is the operator's, not a visitor's)."""
    return AnswerCache()


def refresh_overview(url: str | None = None) -> None:
    """Forget cached answers (of one server, or all): the next page run asks again."""
    _answers().invalidate_where(lambda key: url is None or key[0] == url)


def load_overview(connection: state.Connection, quiet: bool = False,
                  signature_versions: Sequence[int] = ()) -> ModelOverview | None:
    """The model overview (one status GET, one metadata GET per label and per version whose signatures it holds:
    the newest SIGNATURES_SHOWN available ones, plus those of `signature_versions` that are available, each cached
    briefly on its own; the age is shown), or None after showing what went wrong (`quiet`: nothing shown, for a
    server the operator says has no metadata API); a failed request forgets the server's cached answers."""
    key = (connection.url, connection.model, connection.labels)

    def fetch() -> ModelOverview:
        with st.spinner("Asking the model server…"):
            return fetch_model_overview(*key)
    try:
        overview, fetched_at = _answers().get(key, fetch, ttl=config.MODELS_CACHE_TTL_S)
    except TFServingError as exc:
        refresh_overview(connection.url)
        if not quiet:
            show_error(explain(exc, connection.url, connection.model), icon=":material/power_off:")
        return None
    st.caption(describe_age(max(0.0, time.time() - fetched_at)))
    offered = set(overview.available_versions)
    more = [v for v in dict.fromkeys(signature_versions) if v in offered and v not in overview.signature_versions]
    return _with_signatures(overview, more[:SIGNATURES_SHOWN]) if more else overview


def _with_signatures(overview: ModelOverview, versions: Sequence[int]) -> ModelOverview:
    """`overview` plus the signatures of `versions`, each version's metadata cached on its own."""
    for version in versions:
        key = (overview.url, overview.model, "signatures", version)
        try:
            (signatures, errors), _ = _answers().get(
                key, lambda v=version: fetch_signatures(overview.url, overview.model, [v]),
                ttl=config.MODELS_CACHE_TTL_S)
        except TFServingError as exc:
            signatures, errors = overview.signatures.iloc[0:0], {version: explain(exc, overview.url, overview.model)}
        overview = overview.with_signatures([version], signatures, errors)
    return overview


def page_address(path: str, query: str) -> str:
    """This dashboard's address of one page (its URL path) with `query`, for a colleague to open; relative when
    Streamlit does not know the browser's address."""
    here = st.context.url
    if not here:
        return f"/{path}?{query}"
    parts = urlsplit(here)
    base = parts.path.rsplit("/", 1)[0] if parts.path.count("/") > 1 else ""
    return urlunsplit((parts.scheme, parts.netloc, f"{base}/{path}", query, ""))


# -- inputs ---------------------------------------------------------------------------------------
def target_selector(label: str, key: str, overview: ModelOverview | None, index: int = 0) -> Target:
    labels = overview.labels if overview else {}
    options = target_options(overview.available_versions, labels) if overview else [LATEST]
    return st.selectbox(label, options, index=min(index, len(options) - 1), key=key,
                        format_func=lambda target: describe_option(target, labels))


def expand(files: Sequence) -> tuple[list[Item], list[Skipped]]:
    """Uploaded files -> (name, loader) items (ZIP members read only when sent) and what was skipped."""
    skipped: list[Skipped] = []
    items = list(expand_uploads(files, skipped=skipped))
    return items, skipped


# -- outcomes -----------------------------------------------------------------------------------
def show_failures(messages: Sequence[str]) -> None:
    """The per-file error messages of a run, listed under an expander (open when there are only a few)."""
    if messages:
        with st.expander(f"{len(messages)} file(s) not classified", expanded=len(messages) <= 5):
            st.markdown(bullet_list(messages))


def show_skipped(skipped: Sequence[Skipped]) -> None:
    """'skipped N: name (reason)' for archive members the expander left out on purpose."""
    if skipped:
        with st.expander(f"skipped {len(skipped)} archive member(s)", expanded=len(skipped) <= 5):
            st.markdown(bullet_list(f"{item.name} ({item.reason})" for item in skipped))


# -- column configs -------------------------------------------------------------------------------
def latency_column(label: str, max_ms: float):
    return st.column_config.ProgressColumn(label, min_value=0.0, max_value=max_ms, format="%.0f ms",
                                           help="Time of the request that carried this image (one request "
                                                "carries a batch)")


def result_columns(class_names: Sequence[str], latency_max_ms: float = 1.0) -> dict:
    """Column config for a results table shown through tables.for_display: thumbnails, readable headers, and
    bars for every number (a bar draws nothing for a missing value, a number column would print "None")."""
    columns = {
        "thumbnail": st.column_config.ImageColumn("image", width="small"),
        "source": st.column_config.TextColumn("file", width="medium"),
        "top_class": st.column_config.TextColumn("top class"),
        "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="percent"),
        "version": st.column_config.TextColumn("version"),
        "latency_ms": latency_column("latency", latency_max_ms),
        "error": st.column_config.TextColumn("error", width="medium"),
        "run": st.column_config.TextColumn("run"),
        "time": st.column_config.TextColumn("time"),
        "kind": st.column_config.TextColumn("kind"),
        "target": st.column_config.TextColumn("target"),
    }
    for name in class_names:
        columns[prob_column(name)] = st.column_config.ProgressColumn(f"P({name})", min_value=0.0, max_value=1.0,
                                                                     format="percent")
    return columns
