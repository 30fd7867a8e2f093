"""ServeScope's page script, served by dashboard_app.py: page setup, the shared sidebar, and the one declaration of the
pages."""
import streamlit as st

from dashboard.ui import profile_editor, run_progress, state, widgets

# An emoji, drawn by the browser itself: a Material Symbols page icon makes the browser fetch the favicon from a
# public font CDN on every page view (the icons inside the page come with Streamlit's own fonts).
st.set_page_config(page_title="ServeScope", page_icon="🔎", layout="wide")
state.init()

page = st.navigation({
    "": [st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True)],
    "Analyse": [st.Page("app_pages/classify.py", title="Classify", icon=":material/image_search:"),
                st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
                st.Page("app_pages/skew.py", title="Skew finder", icon=":material/tune:")],
    "Server": [st.Page("app_pages/models.py", title="Models", icon=":material/deployed_code:")],
    "Runs": [st.Page("app_pages/history.py", title="History", icon=":material/history:"),
             st.Page("app_pages/datasets.py", title="Datasets", icon=":material/dataset:")],
})
widgets.server_sidebar()
profile_editor.sidebar_profile_note()   # the model profile the sidebar model's runs use
run_progress.active_runs_sidebar(page)  # this session's running runs, on every page
page.run()
