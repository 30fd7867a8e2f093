"""The Models page: the versions, labels and signatures the server reports now; what the server did (version
timeline, label history) recorded while the page is open, raw status/metadata JSON on demand, and the age of
cached answers. Per-version work is bounded: signatures of the newest SIGNATURES_SHOWN available versions plus
those the visitor picks, a timeline of the TIMELINE_VERSIONS versions that changed last, the newest
MAX_CHANGES_SHOWN recorded changes. Version numbers are drawn as text (a browser's numbers lose int64 digits).
Streamlit-facing; the logic is in dashboard.server.watch and dashboard.server.answer_cache, the charts in
dashboard.models.charts."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Sequence

import streamlit as st

from client import TFServingError
from dashboard.models import charts as watch_charts
from dashboard.plain import escape_markdown
from dashboard.server import watch as server_watch
from dashboard.server.answer_cache import AnswerCache, describe_age
from dashboard.server.explain import explain
from dashboard.server.overview import SIGNATURES_SHOWN, ModelOverview, newest_versions
from client.store.database import Store, StoreError
from client.store.texts import bounded_text
from dashboard.ui import state, widgets

__all__ = ["render_model_overview", "render_server_watch", "render_raw_answers", "render_answer_age",
           "shared_answer_cache", "picked_signature_versions", "WATCH_WINDOWS", "MAX_CHANGES_SHOWN"]

WATCH_WINDOWS = {"last hour": timedelta(hours=1), "last day": timedelta(days=1), "last week": timedelta(days=7),
                 "everything recorded": None}
MAX_CHANGES_SHOWN = 1000   # recorded changes listed, newest first
MAX_ERRORS_SHOWN = 100     # version errors listed under the timeline, newest first
PICKED_KEY = "models_signature_versions"


def picked_signature_versions() -> tuple[int, ...]:
    """The versions the visitor picked to see the signatures of, besides the newest (widgets.load_overview reads
    them)."""
    return tuple(st.session_state.get(PICKED_KEY) or ())


def _versions_table(versions):
    """The versions as text: a browser shows int64 numbers near 2**63 rounded."""
    return versions.assign(version=versions["version"].map(str))


def render_model_overview(overview: ModelOverview, connection: state.Connection) -> None:
    """Versions and their states, where the labels point, and each available version's signatures."""
    st.caption(escape_markdown(f"Model '{overview.model}' at {overview.url}", limit=None))
    st.subheader("Versions")
    st.dataframe(_versions_table(overview.versions), hide_index=True, key="models_versions",
                 column_config={"version": st.column_config.TextColumn("version")})
    if overview.labels:
        st.text("Labels: " + ", ".join(f"{name} → version {version}" for name, version in overview.labels.items()))
    else:
        st.info(escape_markdown(f"None of the labels {', '.join(connection.labels) or '(none given)'} is assigned."))
    st.subheader("Signatures")
    _pick_signature_versions(overview)
    for version in overview.signature_versions:
        version_labels = [name for name, v in overview.labels.items() if v == version]
        st.markdown(f"#### Version {version}" + (f" · {', '.join(version_labels)}" if version_labels else ""))
        if version in overview.metadata_errors:
            widgets.show_error(f"Metadata for version {version} failed: {overview.metadata_errors[version]}")
            continue
        sigs = overview.signatures[overview.signatures["version"] == version]
        for signature, tensors in sigs.groupby("signature", sort=True):
            st.text(f"{signature} — {tensors['method'].iloc[0]}")  # names from the server: plain text
            st.table(tensors[["role", "tensor", "dtype", "shape"]].set_index(["role", "tensor"]))


def _pick_signature_versions(overview: ModelOverview) -> None:
    """When more versions are available than the newest SIGNATURES_SHOWN, say so and offer the others."""
    available = overview.available_versions
    if len(available) <= SIGNATURES_SHOWN:
        return
    newest = set(newest_versions(available))
    st.caption(f"Signatures of the newest {SIGNATURES_SHOWN} of {len(available):,} available versions; pick "
               "others below.")
    others = [version for version in sorted(available, reverse=True) if version not in newest]
    st.multiselect(f"Signatures of other versions (up to {SIGNATURES_SHOWN})", others, key=PICKED_KEY,
                   max_selections=SIGNATURES_SHOWN, format_func=str)


@st.cache_resource
def shared_answer_cache() -> AnswerCache:
    """One cache of server answers per app process (answers are the operator's server's, not a visitor's)."""
    return AnswerCache()


def render_answer_age(fetched_at: float, *, now: float | None = None) -> None:
    """A caption such as "answer from 12 s ago" for a cached answer fetched at `fetched_at` (time.time())."""
    st.caption(describe_age(max(0.0, (now if now is not None else time.time()) - fetched_at)))


def render_server_watch(store: Store, url: str, model: str, labels: Sequence[str], *, key_prefix: str = "models",
                        client_factory: server_watch.ClientFactory = server_watch.default_watch_client,
                        every_s: float | None = None,
                        on_failure: Callable[[str], None] | None = None) -> None:
    """Ask the server every `every_s` seconds while the page is open (st.fragment; None: the operator's
    SERVESCOPE_WATCH_SECONDS, default 5; 0: never, only what was recorded is drawn), record the changes, and
    draw the version timeline and the label history from the store. `on_failure(url)` runs when the server
    does not answer (e.g. to evict that server's cached answers)."""
    st.subheader("What the server did")
    if every_s is None:
        try:
            every_s = server_watch.watch_seconds()
        except ValueError as exc:
            st.error(escape_markdown(exc), icon=":material/settings:")
            every_s = 0.0
    window = st.selectbox("Show", list(WATCH_WINDOWS), key=f"{key_prefix}_watch_window")

    @st.fragment(run_every=every_s or None)
    def watch() -> None:
        if not every_s:
            st.caption(f"Not asking the server from this page ({server_watch.WATCH_SETTING}=0); showing what "
                       "was recorded at run starts.")
            _draw_history(store, url, model, WATCH_WINDOWS[window])
            return
        asked = None
        try:
            result = server_watch.observe(url, model, labels, store, client_factory)
        except TFServingError as exc:
            if on_failure is not None:
                on_failure(url)
            st.warning(escape_markdown(f"The server did not answer the status request: {explain(exc, url, model)}"),
                       icon=":material/cloud_off:")
        except StoreError as exc:
            st.error(escape_markdown(f"What the server did could not be recorded: "
                                     f"{str(exc).replace(store.url, 'the run store')}"), icon=":material/error:")
        else:
            new = "nothing new" if not result.recorded else f"{result.recorded:,} new change(s)"
            asked = f"Asked at {result.observed_at:%H:%M:%S} UTC ({new}); watching every {every_s:g} s while this " \
                    "page is open."
            for label, reason in result.label_errors.items():
                st.text(f"label {label}: not asked ({reason})")
        _draw_history(store, url, model, WATCH_WINDOWS[window], asked=asked)

    watch()


def _draw_history(store: Store, url: str, model: str, window: timedelta | None, *, asked: str | None = None) -> None:
    """The timeline and label history, under one caption whose count of recorded changes is the expander's."""
    now = datetime.now(timezone.utc)
    try:
        seen = store.observations(model, url=url)
    except StoreError as exc:
        st.error(escape_markdown(f"The recorded observations cannot be read: "
                                 f"{str(exc).replace(store.url, 'the run store')}"), icon=":material/error:")
        return
    st.caption(" ".join(filter(None, [f"{len(seen):,} recorded change(s) of this model at this server.", asked])))
    timeline = server_watch.version_timeline(seen, now)
    history = server_watch.label_history(seen, now)
    if window is not None:  # stretches that overlap the window, clipped to it
        start = now - window
        timeline = timeline[timeline["end"] >= start].assign(start=lambda f: f["start"].clip(lower=start))
        history = history[history["end"] >= start].assign(start=lambda f: f["start"].clip(lower=start))
    if timeline.empty:
        st.info("Nothing recorded about this model's versions at this server yet.")
    else:
        drawn, total = server_watch.recently_changed(timeline)
        if total > len(set(drawn["version"])):
            st.caption(f"Timeline of the {len(set(drawn['version']))} versions that changed last, of {total:,} "
                       "recorded.")
        st.altair_chart(watch_charts.version_timeline_chart(drawn), width="stretch")
        errors = timeline[timeline["error"].notna()].sort_values("start", ascending=False, kind="stable")
        if not errors.empty:
            if len(errors) > MAX_ERRORS_SHOWN:
                st.caption(f"The newest {MAX_ERRORS_SHOWN} of {len(errors):,} version errors.")
            shown = errors.head(MAX_ERRORS_SHOWN)[["version", "state", "start", "error"]]
            st.dataframe(_versions_table(shown), hide_index=True)  # server text in cells: plain
    if not history.empty:
        st.altair_chart(watch_charts.label_history_chart(history), width="stretch")
    with st.expander(f"The {len(seen):,} recorded change(s), newest first"):
        if len(seen) > MAX_CHANGES_SHOWN:
            st.caption(f"The newest {MAX_CHANGES_SHOWN:,}.")
        st.dataframe(_observation_rows(seen[-MAX_CHANGES_SHOWN:]), hide_index=True)


def _text(number: int | None) -> str | None:
    return None if number is None else str(number)


def _observation_rows(seen) -> list[dict]:
    return [{"time (UTC)": o.observed_at, "version": _text(o.version), "state": o.state,
             "error": bounded_text(o.error) if o.error else o.error, "label": o.label,
             "label version": _text(o.label_version)} for o in reversed(seen)]


def render_raw_answers(url: str, model: str, labels: Sequence[str], *, key_prefix: str = "models",
                       client_factory: server_watch.ClientFactory = server_watch.default_watch_client) -> None:
    """An expander with the server's own JSON for the status and metadata requests, asked only when its button is
    pressed; the answer stays (with its age) until the next press or another server/model."""
    key = f"{key_prefix}_raw_answers"
    with st.expander("Raw status and metadata answers (JSON)"):
        if st.button("Ask the server", key=f"{key_prefix}_raw_fetch", icon=":material/data_object:"):
            try:
                with client_factory(url, model) as client:
                    answers = server_watch.fetch_raw_answers(client, labels)
            except TFServingError as exc:
                st.session_state.pop(key, None)
                st.warning(escape_markdown(explain(exc, url, model)), icon=":material/cloud_off:")
            else:
                st.session_state[key] = (url, model, answers, time.time())
        kept = st.session_state.get(key)
        if kept is None or kept[:2] != (url, model):
            st.caption("Not asked yet.")
            return
        render_answer_age(kept[3])
        for path, body in kept[2].items():
            st.text(f"GET {path}")
            st.json(body, expanded=1)
