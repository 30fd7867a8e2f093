"""dashboard.models.view's server-watch and raw-answer sections over the store and server a test put in session
state; `failures` lists the URLs on_failure was called with."""
import streamlit as st

from dashboard.models import view as models_view


def failed(url: str) -> None:
    st.session_state["failures"] = [*st.session_state.get("failures", []), url]


store, url = st.session_state["store"], st.session_state["url"]
models_view.render_server_watch(store, url, "pets", ("stable", "canary"), on_failure=failed)
models_view.render_raw_answers(url, "pets", ("stable",))
