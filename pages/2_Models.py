"""Models: which versions are live, where the labels point, and what each signature expects."""
import streamlit as st

from dashboard import state

connection = state.start_page("Models · ServeScope", ":material/deployed_code:")

st.title("Models")
if st.button("Refresh", key="models_refresh", help="Ask the server again instead of using the cached answer"):
    state.cached_overview.clear()

overview = state.load_overview(connection)
if overview is None:
    st.stop()

st.caption(f"Model '{overview.model}' at {overview.url}")
st.subheader("Versions")
st.dataframe(overview.versions, hide_index=True, key="models_versions",
             column_config={"version": st.column_config.NumberColumn("version", format="%d")})
if overview.labels:
    st.write("Labels: " + ", ".join(f"`{name}` → version {version}" for name, version in overview.labels.items()))
else:
    st.info(f"None of the labels {', '.join(connection.labels) or '(none given)'} is assigned.")

st.subheader("Signatures")
for version in overview.available_versions:
    version_labels = [name for name, v in overview.labels.items() if v == version]
    st.markdown(f"#### Version {version}" + (f" · {', '.join(version_labels)}" if version_labels else ""))
    if version in overview.metadata_errors:
        st.error(f"Metadata for version {version} failed: {overview.metadata_errors[version]}")
        continue
    sigs = overview.signatures[overview.signatures["version"] == version]
    for signature, tensors in sigs.groupby("signature", sort=True):
        st.markdown(f"`{signature}` — {tensors['method'].iloc[0]}")
        st.table(tensors[["role", "tensor", "dtype", "shape"]].set_index(["role", "tensor"]))
