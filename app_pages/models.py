"""Models: which versions are live, where the labels point, and what each signature expects."""
import streamlit as st

from dashboard.models import view as models_view
from dashboard.ui import profile_editor, widgets

if (connection := widgets.start_page("Models")) is not None:
    if st.button("Refresh", key="models_refresh", help="Ask the server again instead of using the cached answer"):
        widgets.refresh_overview()
    if (overview := widgets.load_overview(connection,
                                          signature_versions=models_view.picked_signature_versions())) is not None:
        models_view.render_model_overview(overview, connection)
    profile_editor.render_profile_editor(connection)
    if (store := widgets.open_run_store(", so what the server did is not recorded")) is not None:
        models_view.render_server_watch(store, connection.url, connection.model, connection.labels,
                                        on_failure=lambda _url: widgets.refresh_overview())
    models_view.render_raw_answers(connection.url, connection.model, connection.labels)
