"""A page that only draws dashboard.evaluate.view over the frame a test put in session state."""
import streamlit as st

from dashboard.evaluate import metrics
from dashboard.evaluate import view as evaluation_view


def correct(source: str, correction: str | None) -> None:
    st.session_state["corrections"] = [*st.session_state.get("corrections", []), (source, correction)]
    if st.session_state.get("drop_corrections"):   # a caller that fails to keep it
        return
    st.session_state["frame"] = metrics.apply_correction(st.session_state["frame"], source, correction,
                                                            st.session_state["class_names"])


st.session_state["threshold"] = evaluation_view.render_evaluation(
    st.session_state["frame"], st.session_state["class_names"], key_prefix="eval",
    thumbnails=st.session_state.get("thumbnails"), on_correction=correct)
shown = evaluation_view.render_result_filters(st.session_state["frame"], st.session_state["class_names"],
                                              key_prefix="results", threshold=st.session_state["threshold"])
st.session_state["filtered"] = shown["source"].tolist()
