"""The Compare page's form: targets and baseline, images (an upload, a dataset version or a stored run's), ground
truth, and the press that starts the runs; and which stored comparison the page shows. A stored run of the baseline
on the same images (dashboard.runs.reuse) stands for it instead of a new run, and the page says so.

The image uploader names no file types (Streamlit's own type check raises for a file name holding a NUL character;
client.sources makes such a file that item's error row). A run-store failure names "the run store" on the page; its
details (a path or a database URL, which could carry a password) go to the log.
"""
import logging

import streamlit as st

from client import TFServingError

from dashboard.compare import view as compare_view
from dashboard.compare.stored import stored_truth
from dashboard.plain import escape_markdown
from dashboard.runs import reuse
from dashboard.runs.manager import ItemsUnavailable
from dashboard.server.connection import NothingToClassify, open_client
from client.store.database import Store, StoreError
from dashboard.targets import LATEST, Target, describe_option, target_options
from dashboard.ui import dataset_source, state, widgets

__all__ = ["choose_targets", "compare_form", "comparison_to_show"]

LOG = logging.getLogger("servescope.dashboard")


def _store_failed(what: str, exc: StoreError) -> None:
    LOG.error("%s: %s", what, exc)
    widgets.show_error(f"{what}: the run store failed; the dashboard's log says why.")


def choose_targets(overview, fixed=None):
    """The targets (two or more) and the baseline's index among them. `fixed`: a target that must be one of
    them (Compare with… from a Classify run: the run's own target, and the baseline)."""
    labels = overview.labels if overview else {}
    options = target_options(overview.available_versions, labels) if overview else [LATEST]
    if fixed is not None and fixed not in options:
        options.insert(0, fixed)
    default = [fixed, *[o for o in options if o != fixed][:1]] if fixed is not None else options[:2]
    chosen = st.multiselect("Targets (two or more)", options, default=default, key="compare_targets",
                            format_func=lambda t: describe_option(t, labels))
    if not chosen:
        return [], 0
    baseline = st.selectbox("Baseline (A)", range(len(chosen)), key="compare_baseline_target",
                            format_func=lambda i: describe_option(chosen[i], labels),
                            index=chosen.index(fixed) if fixed in chosen else 0,
                            help="The version in service now; every other target is decided against it")
    return chosen, baseline


def _still_answers(connection, target, run) -> bool:
    """Whether `target` names the version that answered `run` on the server now (asked afresh: the page's overview
    is cached)."""
    try:
        with open_client(connection.url, connection.model) as client:
            return client.plan(**target.kwargs)[0] == run.version
    except TFServingError:
        return False


def start(connection, manager, items, skipped, targets, baseline, truth, summary, *, dataset=None,
          keep_images=False, reused=None) -> None:
    ordered = [targets[baseline], *[t for i, t in enumerate(targets) if i != baseline]]
    if reused is not None and not _still_answers(connection, ordered[0], reused):
        st.warning(escape_markdown(f"Run {reused.id} is not reused: {ordered[0].describe()} no longer names version "
                                   f"{reused.version}, so the baseline is run again."), icon=":material/label:")
        reused = None
    comparison = manager.submit_compare(connection.url, connection.model, items,
                                        ordered, session_id=state.session_id(),
                                        truth=truth, truth_summary=summary, probe_labels=connection.labels,
                                        dataset=dataset, keep_images=keep_images,
                                        reuse={0: reused.id} if reused is not None else None,
                                        profiles=state.profile_chooser(connection.model))
    state.show_comparison(comparison.id)
    st.query_params["comparison"] = comparison.id
    widgets.show_skipped(skipped)


def _images_source(source_run):
    """Where the images come from: the requested run's, a dataset version, or an upload. Returns (dataset version
    or None, uploaded files)."""
    if source_run is not None:
        return dataset_source.version_of_run(source_run), []
    kind = st.radio("Images", ["Upload", dataset_source.DATASET_SOURCE], key="compare_images_source",
                    horizontal=True, label_visibility="collapsed")
    if kind == dataset_source.DATASET_SOURCE:
        return dataset_source.pick_dataset("compare"), []
    return None, st.file_uploader("Images or ZIP archives of images", accept_multiple_files=True,
                                  key="compare_uploads") or []


def _dataset_truth(dataset, items, table, class_names):
    from client.truth import detect_truth
    from dashboard.evaluate.truth_view import render_truth_summary

    if not table or not class_names:
        return {}, None
    detection = detect_truth([name for name, _ in items], class_names, method="file",
                             truth_file=(f"dataset {dataset.reference}", table))
    render_truth_summary(detection)
    return detection.truth, detection.summary


def _baseline_to_reuse(store, connection, overview, source_run, dataset, target, total):
    """A stored run that stands for the baseline on these images (dashboard.runs.reuse), said on the page."""
    if overview is None or target is None:
        return None
    candidates = [source_run] if source_run is not None and source_run.dataset_id is None else []
    if dataset is not None:
        candidates += [s.run for s in store.list_runs(dataset_id=dataset.dataset_id, dataset_version=dataset.version)]
    answered = reuse.version_now(target, overview.labels, overview.available_versions)
    found = reuse.reusable_run(candidates, url=connection.url, model=connection.model, target=target,
                               answered_now=answered, total=total)
    if found is not None:
        on = f"dataset {dataset.reference}" if dataset is not None else "these images"
        st.info(escape_markdown(f"The baseline ({target.describe()} → version {found.version}) is not classified "
                                f"again: run {found.id} on {on} stands for it (complete, same server, model and "
                                "version). Only the other targets are run."), icon=":material/recycling:")
    return found


def compare_form(connection, overview, store, manager) -> None:
    requested = state.compare_request()
    try:
        source_run = store.get_run(requested) if requested else None
    except StoreError as exc:
        _store_failed("The run to compare cannot be read", exc)
        return
    if requested and source_run is None:
        state.clear_compare_request()   # the run was deleted meanwhile: an upload it is
    if source_run is not None:
        st.info(escape_markdown(f"Comparing the {source_run.total} image(s) of run {source_run.id} "
                                f"({source_run.target}) with other targets: no new upload needed."))
        if st.button("Upload other images instead", key="compare_forget_request"):
            state.clear_compare_request()
            st.rerun()
    targets, baseline = choose_targets(overview, Target.parse(source_run.target) if source_run else None)
    try:
        dataset, files = _images_source(source_run)
    except StoreError as exc:
        widgets.show_error(f"The dataset cannot be read: {exc}")
        return
    checks = compare_view.target_checks(connection.url, connection.model, tuple(targets),
                                        state.profile_chooser(connection.model)) if targets else []
    usable = compare_view.render_target_checks(checks, baseline, key_prefix="compare") if checks else False
    items, skipped = widgets.expand(files) if files else ([], [])
    truth, summary, table = {}, None, {}
    if dataset is not None and source_run is None:
        try:
            items, table = dataset_source.dataset_items(dataset)
        except StoreError as exc:
            widgets.show_error(f"The dataset's images cannot be read: {exc}")
            return
    if source_run is not None:
        try:
            truth = stored_truth(store, source_run.id)
        except StoreError as exc:
            _store_failed("The ground truth of the run cannot be read", exc)
            return
        summary = f"ground truth of run {source_run.id}: {len(truth)} of {source_run.total} images"
        st.caption(escape_markdown(summary))
    elif dataset is not None and usable:
        truth, summary = _dataset_truth(dataset, items, table, checks[baseline].classes)
    elif items and usable:
        detection = compare_view.truth_controls([name for name, _ in items], checks[baseline].classes,
                                                key_prefix="compare")
        truth, summary = detection.truth, detection.summary
    keep_images = dataset_source.keep_images_box("compare") if files else False
    total = source_run.total if source_run is not None else len(items)
    try:
        reused = _baseline_to_reuse(store, connection, overview, source_run, dataset,
                                    targets[baseline] if targets else None, total) if usable else None
    except StoreError as exc:
        _store_failed("The stored runs cannot be read", exc)
        reused = None
    ready = usable and len(targets) >= 2 and (bool(files) or bool(items) or source_run is not None)
    if not st.button("Compare", key="compare_run", type="primary", disabled=not ready):
        return
    try:
        if source_run is not None:
            items = manager.items_of(source_run.id)
        if not items:
            raise NothingToClassify("compare", skipped)
        start(connection, manager, items, skipped, targets, baseline, truth, summary, dataset=dataset,
              keep_images=keep_images, reused=reused)
    except (ItemsUnavailable, NothingToClassify) as exc:
        widgets.show_error(exc)
        return
    except StoreError as exc:
        _store_failed("The comparison could not be stored", exc)
        return
    state.clear_compare_request()


def comparison_to_show(store: Store) -> str | None:
    """The comparison this page shows: the one `?comparison=<id>` names, the newest one holding `?run=<id>`
    (a History link names one side's run), or the one this session showed last (its link put back in the
    address)."""
    if (linked := st.query_params.get("comparison")) is not None:
        state.show_comparison(linked)
    elif (run_link := st.query_params.get("run")) is not None:
        # A History link names one side's run: open the (newest) comparison that holds it.
        try:
            holding = store.comparisons_of_run(run_link)
        except StoreError as exc:
            _store_failed("The stored comparisons cannot be read", exc)
            holding = None
        if holding:
            state.show_comparison(holding[0].id)
            del st.query_params["run"]
            st.query_params["comparison"] = holding[0].id
        elif holding is not None:
            st.info(escape_markdown(f"Run {run_link} belongs to no stored comparison."))
    shown = state.shown_comparison()
    if shown is not None and "comparison" not in st.query_params and "run" not in st.query_params:
        st.query_params["comparison"] = shown   # back from another page: the address is the link again
    return shown
