"""dashboard.history.view over the store a test put in session state, in a two-page app (History, and a
Classify stand-in, so st.page_link has a registered page to point at)."""
import streamlit as st

from dashboard.history import view as history_view


def history() -> None:
    history_view.render_history(st.session_state["store"], session_id=st.session_state.get("session_id"),
                                open_pages={"classify": classify_page, "compare": classify_page},
                                environ=st.session_state.get("environ", {}),
                                current_labels=st.session_state.get("current_labels"),
                                actor=st.session_state.get("actor"))


def classify() -> None:
    st.text(f"opened run {st.query_params.get('run')}")


history_page = st.Page(history, title="History", url_path="history", default=True)
classify_page = st.Page(classify, title="Classify", url_path="classify")
st.navigation([history_page, classify_page]).run()
