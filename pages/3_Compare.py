"""Compare: the same images against two versions or labels — agreement, disagreements, latency."""
import pandas as pd
import streamlit as st

from client import TFServingError
from dashboard import charts, state, tables
from dashboard.compare import compare_versions
from dashboard.errors import explain

connection = state.start_page("Compare · ServeScope", ":material/compare:")

st.title("Compare versions")
overview = state.load_overview(connection)

uploads = st.file_uploader("Images or ZIP archives of images", type=state.UPLOAD_TYPES,
                           accept_multiple_files=True, key="compare_uploads")
left, right = st.columns(2)
with left:
    target_a = state.target_selector("A", key="compare_target_a", overview=overview, index=0)
with right:
    target_b = state.target_selector("B", key="compare_target_b", overview=overview, index=1)

if st.button("Compare", key="compare_run", type="primary", disabled=not uploads):
    with st.status(f"Comparing {target_a.describe()} with {target_b.describe()}…", expanded=True) as status:
        bar = st.progress(0.0, text="starting")
        try:
            comparison = compare_versions(connection.url, connection.model, state.read_uploads(uploads),
                                          target_a, target_b, on_progress=state.progress_callback(bar))
        except TFServingError as exc:
            status.update(label="Comparison failed", state="error")
            st.error(explain(exc, connection.url, connection.model))
        else:
            st.session_state["compare_last"] = comparison
            state.record_runs(comparison.run_a, comparison.run_b)
            status.update(label=f"Compared {comparison.run_a.n_images} image(s)", state="complete", expanded=False)

comparison = st.session_state["compare_last"]
if comparison is None:
    st.info("Upload images, choose two versions or labels, then press Compare.")
    st.stop()

name_a, name_b = comparison.run_a.target.describe(), comparison.run_b.target.describe()
rate = comparison.agreement_rate
cols = st.columns(3)
cols[0].metric("Agreement", "—" if rate is None else f"{rate:.0%}",
               help="Share of images both sides classified that got the same top class")
cols[1].metric("Images compared", comparison.n_compared)
cols[2].metric("Disagreements", comparison.n_disagreements)

state.show_failures(comparison.table["error"].dropna().tolist())

table = comparison.table
columns = state.result_columns([])
latency_max = tables.latency_scale_ms(table["latency_a_ms"], table["latency_b_ms"])
columns.update({
    "top_a": st.column_config.TextColumn(f"A: {name_a}"), "top_b": st.column_config.TextColumn(f"B: {name_b}"),
    "confidence_a": st.column_config.ProgressColumn("P(A top)", min_value=0.0, max_value=1.0, format="percent"),
    "confidence_b": st.column_config.ProgressColumn("P(B top)", min_value=0.0, max_value=1.0, format="percent"),
    "version_a": st.column_config.TextColumn("A version"),
    "version_b": st.column_config.TextColumn("B version"),
    "agree": st.column_config.CheckboxColumn("agree"),
    "latency_a_ms": state.latency_column("A latency", latency_max),
    "latency_b_ms": state.latency_column("B latency", latency_max),
})


def highlight_disagreement(row):
    disagrees = pd.notna(row["agree"]) and not bool(row["agree"])
    colour = "background-color: #ffe0e0" if disagrees else ""
    return [colour] * len(row)


st.dataframe(tables.for_display(table).style.apply(highlight_disagreement, axis=1), hide_index=True,
             column_config=columns, column_order=tables.column_order(table), key="compare_table")
chart_left, chart_right = st.columns(2)
with chart_left:
    if len(comparison.probabilities):
        st.altair_chart(charts.agreement_scatter(comparison.probabilities, name_a, name_b,
                                                 comparison.run_a.class_names), width="stretch")
with chart_right:
    if len(comparison.latency):
        st.altair_chart(charts.latency_chart(comparison.latency), width="stretch")
