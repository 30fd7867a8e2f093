"""Models: which versions are live, where the labels point, and what each signature expects."""
import streamlit as st

from dashboard import models_view, state, widgets
from dashboard.models import ModelOverview
from dashboard.store import StoreError
from dashboard.plain import escape_markdown


def model_overview(overview: ModelOverview, connection: state.Connection) -> None:
    st.caption(escape_markdown(f"Model '{overview.model}' at {overview.url}", limit=None))
    st.subheader("Versions")
    st.dataframe(overview.versions, hide_index=True, key="models_versions",
                 column_config={"version": st.column_config.NumberColumn("version", format="%d")})
    if overview.labels:
        st.text("Labels: " + ", ".join(f"{name} → version {version}" for name, version in overview.labels.items()))
    else:
        st.info(escape_markdown(f"None of the labels {', '.join(connection.labels) or '(none given)'} is assigned."))
    st.subheader("Signatures")
    for version in overview.available_versions:
        version_labels = [name for name, v in overview.labels.items() if v == version]
        st.markdown(f"#### Version {version}" + (f" · {', '.join(version_labels)}" if version_labels else ""))
        if version in overview.metadata_errors:
            widgets.show_error(f"Metadata for version {version} failed: {overview.metadata_errors[version]}")
            continue
        sigs = overview.signatures[overview.signatures["version"] == version]
        for signature, tensors in sigs.groupby("signature", sort=True):
            st.text(f"{signature} — {tensors['method'].iloc[0]}")  # names from the server: plain text
            st.table(tensors[["role", "tensor", "dtype", "shape"]].set_index(["role", "tensor"]))


if (connection := widgets.start_page("Models")) is not None:
    if st.button("Refresh", key="models_refresh", help="Ask the server again instead of using the cached answer"):
        widgets.refresh_overview()
    if (overview := widgets.load_overview(connection)) is not None:
        model_overview(overview, connection)
    try:
        store = state.run_store()
    except StoreError:
        widgets.show_error("The run store cannot be opened, so what the server did is not recorded.")
    else:
        models_view.render_server_watch(store, connection.url, connection.model, connection.labels,
                                        on_failure=lambda _url: widgets.refresh_overview())
    models_view.render_raw_answers(connection.url, connection.model, connection.labels)
