"""Compare: the same images against two versions or labels — agreement, disagreements, latency."""
import pandas as pd
import streamlit as st

from dashboard import charts, state, tables, widgets
from dashboard.compare import Comparison, compare_versions


def compare_form(connection: state.Connection) -> None:
    overview = widgets.load_overview(connection)
    files = widgets.uploader("compare_uploads")
    left, right = st.columns(2)
    with left:
        target_a = widgets.target_selector("A", key="compare_target_a", overview=overview, index=0)
    with right:
        target_b = widgets.target_selector("B", key="compare_target_b", overview=overview, index=1)
    if st.button("Compare", key="compare_run", type="primary", disabled=not files):
        items, skipped = widgets.expand(files)
        widgets.run_with_status(
            "compare", f"Comparing {target_a.describe()} with {target_b.describe()}…", connection,
            lambda progress: compare_versions(connection.url, connection.model, items, target_a, target_b,
                                              skipped=skipped, on_progress=progress),
            runs_of=lambda comparison: [comparison.run_a, comparison.run_b])


def highlight_disagreement(row):
    disagrees = pd.notna(row["agree"]) and not bool(row["agree"])
    colour = "background-color: #ffe0e0" if disagrees else ""
    return [colour] * len(row)


def results(comparison: Comparison) -> None:
    name_a, name_b = comparison.run_a.target.describe(), comparison.run_b.target.describe()
    rate = comparison.agreement_rate
    cols = st.columns(3)
    cols[0].metric("Agreement", "—" if rate is None else f"{rate:.0%}",
                   help="Share of images both sides classified that got the same top class")
    cols[1].metric("Images compared", comparison.n_compared)
    cols[2].metric("Disagreements", comparison.n_disagreements)
    widgets.show_run_summary(comparison.run_a, f"A, {name_a}", details=False)
    widgets.show_run_summary(comparison.run_b, f"B, {name_b}", details=False)
    widgets.show_failures(comparison.table["error"].dropna().tolist())
    widgets.show_skipped(comparison.run_a.skipped)

    table = comparison.table
    columns = widgets.result_columns([])
    latency_max = tables.latency_scale_ms(table["latency_a_ms"], table["latency_b_ms"])
    columns.update({
        "top_a": st.column_config.TextColumn(f"A: {name_a}"), "top_b": st.column_config.TextColumn(f"B: {name_b}"),
        "confidence_a": st.column_config.ProgressColumn("P(A top)", min_value=0.0, max_value=1.0, format="percent"),
        "confidence_b": st.column_config.ProgressColumn("P(B top)", min_value=0.0, max_value=1.0, format="percent"),
        "version_a": st.column_config.TextColumn("A version"),
        "version_b": st.column_config.TextColumn("B version"),
        "agree": st.column_config.CheckboxColumn("agree"),
        "latency_a_ms": widgets.latency_column("A latency", latency_max),
        "latency_b_ms": widgets.latency_column("B latency", latency_max),
    })
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


if (connection := widgets.start_page("Compare versions")) is not None:
    compare_form(connection)
    comparison = state.last_result("compare")
    widgets.show_outcome("compare", comparison.run_a if comparison else None)
    if comparison is None:
        st.info("Upload images, choose two versions or labels, then press Compare.")
    else:
        results(comparison)
