"""Classify: upload images (files, ZIPs, a folder or a camera photo), pick a version, and the batch runs in the
background; the page shows its progress, then the evaluation, the results and corrections of the stored run."""
import streamlit as st

from dashboard.classify import form_view
from dashboard.classify import view as classify_view
from dashboard.ui import widgets

if (connection := widgets.start_page("Classify")) is not None:
    form = st.container()   # the form above the run; the run is chosen first, so the form knows whether one is shown
    run_id = form_view.run_to_show()
    with form:
        overview = form_view.classify_form(connection)
    if run_id is not None:
        classify_view.render_run(
            run_id, server_labels=(connection.url, connection.model, overview.labels) if overview else None,
            preview=form_view.preview_of(run_id), skipped=form_view.skipped_of(run_id))
