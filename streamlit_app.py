"""ServeScope home: where the model server is, whether it answers, and links to the pages."""
import streamlit as st

from dashboard import state

connection = state.start_page("ServeScope", ":material/troubleshoot:")

st.title("ServeScope")
st.write("A dashboard in front of TensorFlow Serving image classifiers: classify photos, inspect the live model "
         "versions and their signatures, compare versions on the same images, and keep this session's history.")

st.subheader("Model server")
overview = state.load_overview(connection)
if overview is not None:
    available = overview.available_versions
    st.success(f"Connected to {connection.url}: model '{connection.model}' has {len(available)} available "
               f"version(s): {', '.join(map(str, available)) or 'none'}.", icon=":material/check_circle:")
    cols = st.columns(3)
    cols[0].metric("Available versions", len(available))
    cols[1].metric("Latest version", max(available) if available else "—")
    cols[2].metric("Labels", ", ".join(f"{k}→{v}" for k, v in overview.labels.items()) or "none")

st.subheader("Pages")
for page in state.PAGES[1:]:
    st.page_link(page.path, label=f"{page.title} — {page.what}", icon=page.icon)
