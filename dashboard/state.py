"""Everything that touches Streamlit's session: defaults, the connection sidebar, caching, shared widgets.

The only module in dashboard/ that imports streamlit. Pages call `init_state()` first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import streamlit as st

from client import TFServingError
from dashboard import config
from dashboard.classify import ClassificationRun, ProgressCallback, prob_column
from dashboard.errors import explain
from dashboard.models import ModelOverview, fetch_model_overview
from dashboard.targets import LATEST, Target, describe_option, target_options

UPLOAD_TYPES = ["jpg", "jpeg", "png", "gif", "bmp", "webp", "zip"]


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    icon: str
    what: str


PAGES = (
    Page("streamlit_app.py", "Home", ":material/home:", "connection and overview"),
    Page("pages/1_Classify.py", "Classify", ":material/image_search:", "upload images or ZIPs, see class probabilities"),
    Page("pages/2_Models.py", "Models", ":material/deployed_code:", "versions, states, labels and signatures"),
    Page("pages/3_Compare.py", "Compare", ":material/compare:", "the same images against two versions"),
    Page("pages/4_History.py", "History", ":material/history:", "this session's runs, download, clear"),
)


@dataclass(frozen=True)
class Connection:
    url: str
    model: str
    labels: tuple[str, ...]


def _defaults() -> dict:
    return {
        # Canonical copies of the sidebar inputs: widget keys are dropped when a page without that widget
        # runs, these survive page switches.
        "tf_serving_url": config.default_url(),
        "model_name": config.default_model(),
        "probe_labels": ", ".join(config.default_labels()),
        "classify_last_run": None,     # ClassificationRun shown on the Classify page
        "compare_last": None,          # Comparison shown on the Compare page
        "history_runs": [],            # every ClassificationRun of the session, oldest first
    }


def init_state() -> None:
    for key, value in _defaults().items():
        if key not in st.session_state:
            st.session_state[key] = value


def _copy_to(widget_key: str, canonical_key: str) -> None:
    st.session_state[canonical_key] = st.session_state[widget_key].strip()


def connection_sidebar() -> Connection:
    """URL / model / labels inputs in the sidebar, identical on every page."""
    inputs = (("connection_url", "tf_serving_url", "TF Serving URL", "REST endpoint, e.g. http://127.0.0.1:8501"),
              ("connection_model", "model_name", "Model name", "The model's name in the server's config"),
              ("connection_labels", "probe_labels", "Version labels",
               "Comma-separated labels to look up (TF Serving's REST API cannot list them)"))
    with st.sidebar:
        # Streamlit's own menu names the home page after the file ("streamlit app"); when it is switched off
        # (client.showSidebarNavigation = false, as the launcher does) draw a menu with proper titles.
        if st.get_option("client.showSidebarNavigation") is False:
            for page in PAGES:
                st.page_link(page.path, label=page.title, icon=page.icon)
            st.divider()
        st.header("Connection")
        for widget_key, canonical_key, label, help_text in inputs:
            st.session_state[widget_key] = st.session_state[canonical_key]
            st.text_input(label, key=widget_key, help=help_text, on_change=_copy_to,
                          args=(widget_key, canonical_key))
    return current_connection()


def current_connection() -> Connection:
    return Connection(url=st.session_state["tf_serving_url"].rstrip("/"), model=st.session_state["model_name"],
                      labels=config.parse_labels(st.session_state["probe_labels"]))


@st.cache_data(ttl=config.MODELS_CACHE_TTL_S, show_spinner="Asking the model server…")
def cached_overview(url: str, model: str, labels: tuple[str, ...]) -> ModelOverview:
    # Plain arguments only; the client (and its requests.Session) is created inside, per call.
    return fetch_model_overview(url, model, labels)


def start_page(page_title: str, icon: str) -> Connection:
    """What every page does first: page config, session state, the connection sidebar."""
    st.set_page_config(page_title=page_title, page_icon=icon, layout="wide")
    init_state()
    return connection_sidebar()


def load_overview(connection: Connection) -> ModelOverview | None:
    """The model overview, or None after showing what went wrong (errors are never cached)."""
    try:
        return cached_overview(connection.url, connection.model, connection.labels)
    except TFServingError as exc:
        st.error(explain(exc, connection.url, connection.model), icon=":material/power_off:")
        return None


def target_selector(label: str, key: str, overview: ModelOverview | None, index: int = 0) -> Target:
    labels = overview.labels if overview else {}
    options = target_options(overview.available_versions, labels) if overview else [LATEST]
    return st.selectbox(label, options, index=min(index, len(options) - 1), key=key,
                        format_func=lambda target: describe_option(target, labels))


def read_uploads(files) -> list[tuple[str, bytes]]:
    return [(file.name, file.getvalue()) for file in files or []]


def progress_callback(bar) -> ProgressCallback:
    def update(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"{done} / {total} images")
    return update


def record_runs(*runs: ClassificationRun) -> None:
    st.session_state["history_runs"] = [*st.session_state["history_runs"], *runs]


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


def latency_column(label: str, max_ms: float):
    return st.column_config.ProgressColumn(label, min_value=0.0, max_value=max_ms, format="%.0f ms",
                                           help="Time of the request that carried this image (one request "
                                                "carries a batch)")


def show_failures(messages: Sequence[str]) -> None:
    """The per-file error messages of a run, listed under an expander (open when there are only a few)."""
    if messages:
        with st.expander(f"{len(messages)} file(s) not classified", expanded=len(messages) <= 5):
            st.markdown("\n".join(f"- {message}" for message in messages))
