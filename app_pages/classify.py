"""Classify: upload images or ZIP archives, pick a version, see probabilities per image and for the batch."""
import streamlit as st

from client import schema
from dashboard import charts, state, tables, widgets
from dashboard.classify import ClassificationRun, run_classification


def classify_form(connection: state.Connection) -> None:
    overview = widgets.load_overview(connection)
    files = widgets.uploader("classify_uploads")
    target = widgets.target_selector("Model version", key="classify_target", overview=overview)
    if st.button("Classify", key="classify_run", type="primary", disabled=not files):
        items, skipped = widgets.expand(files)
        widgets.run_with_status(
            "classify", f"Classifying with {target.describe()}…", connection,
            lambda progress: run_classification(connection.url, connection.model, items, target, skipped=skipped,
                                                on_progress=progress),
            runs_of=lambda run: [run])


def results(run: ClassificationRun) -> None:
    widgets.show_run_summary(run, f"{run.target.describe()} (version {', '.join(map(str, run.versions)) or '—'})")
    # "confidence" repeats the top class's P(...) bar; it stays in the CSV with the other schema columns.
    st.dataframe(tables.for_display(run.rows), hide_index=True, key="classify_table",
                 column_config=widgets.result_columns(run.class_names,
                                                      tables.latency_scale_ms(run.rows["latency_ms"])),
                 column_order=tables.column_order(run.rows, hidden=["confidence", *tables.RUN_COLUMNS]))
    st.download_button("Download results (CSV)", schema.to_csv_bytes(run.csv_frame()),
                       file_name=f"classify-{run.run_id}.csv", mime="text/csv", key="classify_download")
    good = run.rows.index[run.rows["error"].isna()].tolist()
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.class_counts_chart(run.class_counts()), width="stretch")
    if not good:
        return
    with right:
        chosen = good[0] if len(good) == 1 else st.selectbox(
            "Image", good, key="classify_detail", format_func=lambda i: run.rows.at[i, "source"])
        row = run.rows.loc[chosen]
        st.altair_chart(charts.probability_chart({c: row[schema.prob_column(c)] for c in run.class_names},
                                                 title=f"{row['source']}: class probabilities"), width="stretch")
        if run.top5(chosen):
            st.altair_chart(charts.top5_chart(run.top5(chosen)), width="stretch")


if (connection := widgets.start_page("Classify")) is not None:
    classify_form(connection)
    run = state.last_result("classify")
    widgets.show_outcome("classify", run)
    if run is None:
        st.info("Upload one or more images (JPEG, PNG, GIF, BMP, WebP, TIFF) or ZIP archives, then press Classify.")
    else:
        results(run)
