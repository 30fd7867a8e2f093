"""Home: which model server the dashboard talks to, whether it answers, and what each page is for."""
import streamlit as st

from dashboard.plain import escape_markdown
from dashboard.server.overview import newest_versions
from dashboard.ui import state, widgets

LISTED_VERSIONS = 10   # available versions named in the "Connected" line


def server_overview(connection: state.Connection) -> None:
    overview = widgets.load_overview(connection)
    if overview is None:
        return
    available = overview.available_versions
    newest = newest_versions(available, LISTED_VERSIONS)
    listed = ", ".join(map(str, sorted(newest))) or "none"
    if len(available) > len(newest):
        listed = f"the newest {len(newest)}: {listed} (the Models page lists them all)"
    st.success(escape_markdown(f"Connected to {connection.url}: model '{connection.model}' has {len(available):,} "
                               f"available version(s): {listed}.", limit=None), icon=":material/check_circle:")
    cols = st.columns(3)
    cols[0].metric("Available versions", f"{len(available):,}")
    cols[1].metric("Latest version", str(max(available)) if available else "—")
    cols[2].metric("Labels", ", ".join(f"{k}→{v}" for k, v in overview.labels.items()) or "none")


connection = widgets.start_page("ServeScope")
st.write("A dashboard in front of TensorFlow Serving image classifiers: classify and evaluate labelled photos, "
         "decide whether a new version should replace the current one, inspect the live versions and their "
         "signatures, and find every run again later.")
st.subheader("Model server")
if connection is not None:
    server_overview(connection)

st.subheader("Pages")
st.page_link("app_pages/classify.py", label="Classify — upload images, ZIPs or a folder; accuracy when labelled",
             icon=":material/image_search:")
st.page_link("app_pages/compare.py", label="Compare — should the canary replace the stable version?",
             icon=":material/compare:")
st.page_link("app_pages/skew.py", label="Skew finder — which preparation (range, mean/std, channels) fits your model?",
             icon=":material/tune:")
st.page_link("app_pages/models.py", label="Models — versions, states, labels and signatures",
             icon=":material/deployed_code:")
st.page_link("app_pages/history.py", label="History — every stored run: open, export, delete",
             icon=":material/history:")
st.page_link("app_pages/datasets.py", label="Datasets — named image sets with their truth, and the runs on each",
             icon=":material/dataset:")
