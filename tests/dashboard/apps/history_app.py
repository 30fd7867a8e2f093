"""dashboard.history.view over the store a test put in session state, in a three-page app (History, and
Classify and Compare stand-ins that print the run or comparison they were opened with)."""
import streamlit as st

from dashboard.history import view as history_view


def history() -> None:
    history_view.render_history(st.session_state["store"], session_id=st.session_state.get("session_id"),
                                open_pages={"classify": classify_page, "compare": compare_page},
                                environ=st.session_state.get("environ", {}),
                                current_labels=st.session_state.get("current_labels"),
                                actor=st.session_state.get("actor"))


def classify() -> None:
    st.text(f"opened run {st.query_params.get('run')}")


def compare() -> None:
    st.text(f"opened comparison {st.query_params.get('comparison')} run {st.query_params.get('run')}")


history_page = st.Page(history, title="History", url_path="history", default=True)
classify_page = st.Page(classify, title="Classify", url_path="classify")
compare_page = st.Page(compare, title="Compare", url_path="compare")
st.navigation([history_page, classify_page, compare_page]).run()
