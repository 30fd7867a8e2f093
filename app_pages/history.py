"""History: every stored run (from any session or browser), then this session's runs that are not stored."""
import logging

import streamlit as st

from client import schema
from dashboard import charts, history_view, state, tables, widgets
from dashboard.store import StoreError
from dashboard.classify import ClassificationRun
from dashboard.history import all_rows, class_counts_long, class_names_of, summary_table


def session_runs(runs: list[ClassificationRun]) -> None:
    st.caption(f"{len(runs)} run(s), {sum(run.n_images for run in runs)} image(s) in this session.")
    st.dataframe(summary_table(runs), hide_index=True, key="history_summary",
                 column_config={"class_counts": st.column_config.TextColumn("top classes", width="medium"),
                                "images": st.column_config.NumberColumn("images", format="%d"),
                                "errors": st.column_config.NumberColumn("errors", format="%d")})
    st.altair_chart(charts.history_chart(class_counts_long(runs), class_names_of(runs)), width="stretch")
    rows = all_rows(runs)
    with st.expander(f"All {len(rows)} result rows"):
        hidden = [column for column in tables.RUN_COLUMNS if column != "target"] + ["confidence"]
        st.dataframe(tables.for_display(rows), hide_index=True, key="history_rows",
                     column_config=widgets.result_columns(class_names_of(runs),
                                                          tables.latency_scale_ms(rows["latency_ms"])),
                     column_order=tables.column_order(rows, leading=("run", "time", "kind", "target", "source"),
                                                      hidden=hidden))
    left, right = st.columns(2)
    left.download_button("Download all rows (CSV)", schema.to_csv_bytes(rows), file_name="servescope-history.csv",
                         mime="text/csv", key="history_download")
    if right.button("Clear history", key="history_clear"):
        state.clear_history()
        st.rerun()


widgets.start_page("History")
try:
    store = state.run_store()
except StoreError:
    logging.getLogger("servescope.dashboard").exception("the run store cannot be opened")
    widgets.show_error("The run store cannot be opened; the dashboard's log says why.")
else:
    history_view.render_history(store, session_id=state.session_id(), key_prefix="history_stored")
if runs := state.history():
    st.subheader("This session's runs (not stored)")
    session_runs(runs)
