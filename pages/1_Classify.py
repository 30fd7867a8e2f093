"""Classify: upload images or ZIP archives, pick a version, see probabilities per image and for the batch."""
import streamlit as st

from client import TFServingError
from dashboard import charts, state, tables
from dashboard.classify import run_classification
from dashboard.errors import explain
from dashboard.history import to_csv_bytes

connection = state.start_page("Classify · ServeScope", ":material/image_search:")

st.title("Classify")
overview = state.load_overview(connection)

uploads = st.file_uploader("Images or ZIP archives of images", type=state.UPLOAD_TYPES,
                           accept_multiple_files=True, key="classify_uploads")
target = state.target_selector("Model version", key="classify_target", overview=overview)

if st.button("Classify", key="classify_run", type="primary", disabled=not uploads):
    with st.status(f"Classifying with {target.describe()}…", expanded=True) as status:
        bar = st.progress(0.0, text="starting")
        try:
            run = run_classification(connection.url, connection.model, state.read_uploads(uploads), target,
                                     on_progress=state.progress_callback(bar))
        except TFServingError as exc:
            status.update(label="Classification failed", state="error")
            st.error(explain(exc, connection.url, connection.model))
        else:
            st.session_state["classify_last_run"] = run
            state.record_runs(run)
            status.update(label=f"Classified {run.n_images} image(s) in {run.elapsed_s:.1f} s", state="complete",
                          expanded=False)

run = st.session_state["classify_last_run"]
if run is None:
    st.info("Upload one or more images (JPEG, PNG, GIF, BMP) or ZIP archives, then press Classify.")
    st.stop()

ok = run.n_images - run.n_errors
summary = (f"{run.n_images} image(s) with {run.target.describe()} "
           f"(version {', '.join(map(str, run.versions)) or '—'}): {ok} classified, {run.n_errors} error(s).")
(st.warning if run.n_errors else st.success)(summary)
state.show_failures(run.rows["error"].dropna().tolist())

# "confidence" repeats the top class's P(...) bar; it stays in the CSV.
st.dataframe(tables.for_display(run.rows), hide_index=True, key="classify_table",
             column_config=state.result_columns(run.class_names, tables.latency_scale_ms(run.rows["latency_ms"])),
             column_order=tables.column_order(run.rows, hidden=["confidence"]))
st.download_button("Download results (CSV)", to_csv_bytes(run.csv_frame()), file_name=f"classify-{run.run_id}.csv",
                   mime="text/csv", key="classify_download")

good = run.rows.index[run.rows["error"].isna()].tolist()
left, right = st.columns(2)
with left:
    st.altair_chart(charts.class_counts_chart(run.class_counts()), width="stretch")
if good:
    with right:
        chosen = good[0] if len(good) == 1 else st.selectbox(
            "Image", good, key="classify_detail", format_func=lambda i: run.rows.at[i, "source"])
        row = run.rows.loc[chosen]
        st.altair_chart(charts.probability_chart({c: row[f"prob_{c}"] for c in run.class_names},
                                                 title=f"{row['source']}: class probabilities"),
                        width="stretch")
        if run.top5(chosen):
            st.altair_chart(charts.top5_chart(run.top5(chosen)), width="stretch")
