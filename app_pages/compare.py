"""Compare: should B (the canary) replace A (stable)? The same images on two or more targets, decided against a
baseline; the runs go on in the background and the comparison reopens by `?comparison=<id>`."""
import streamlit as st

from dashboard.compare import form_view
from dashboard.compare import view as compare_view
from dashboard.ui import state, widgets

if (connection := widgets.start_page("Compare versions")) is not None:
    if (store := widgets.open_run_store()) is None:
        st.stop()
    manager = state.run_manager()
    shown = form_view.comparison_to_show(store)
    overview = widgets.load_overview(connection)
    with st.expander("New comparison", expanded=shown is None):
        form_view.compare_form(connection, overview, store, manager)
    if (shown := state.shown_comparison()) is not None:
        compare_view.render_comparison(store, manager, shown, labels_now=overview.labels if overview else None,
                                       versions_now=overview.available_versions if overview else ())
    else:
        st.info("Upload images, choose two or more versions or labels and the baseline, then press Compare.")
