"""The view of one stored comparison: its runs' progress while they run (cancel, navigation does not stop
them), then the verdict of every target against the chosen baseline with the evidence, corrections, promotion
and downloads (dashboard.compare.decision_view). Reopened anywhere by `?comparison=<id>`. Streamlit-facing.

Targets, class names, file names and server texts are shown through st.text/st.dataframe or escaped.
"""
from __future__ import annotations

import functools
from typing import Mapping, Sequence

import streamlit as st

from client import TFServingClient, TFServingError
from client.protocol import SignatureSpec
from dashboard.compare import checks as before_run
from dashboard.compare import stored
from dashboard.compare.decision import ALIGN, REFUSE, ClassSetMismatch
from dashboard.compare.decision_view import render_decision
from dashboard.config import STATUS_TIMEOUT_S
from dashboard.plain import escape_markdown
from dashboard.runs.manager import Progress, RunManager
from dashboard.runs.ownership import WHO_MAY_CANCEL, NotAllowed, ownership_note
from dashboard.server.profiles import ProfileChooser
from client.store.database import Store, StoreError
from dashboard.ui import access, full_image, run_images, run_progress, widgets

PAGE = "app_pages/compare.py"
CLASS_POLICIES = {ALIGN: "align on the common classes", REFUSE: "refuse"}


def share_url(comparison_id: str) -> str:
    """This dashboard's address of the Compare page with `?comparison=<id>` (a stored comparison's own id)."""
    return widgets.page_address("compare", f"comparison={comparison_id}")


@st.cache_resource(ttl=300, show_spinner=False)
def _signatures(url: str, model: str, versions: tuple[int, ...]) -> dict[int, SignatureSpec]:
    """The serving_default signature of each version that answered, while the server still serves it."""
    found: dict[int, SignatureSpec] = {}
    try:
        with TFServingClient(url, model, timeout=STATUS_TIMEOUT_S, retries=0) as client:
            for version in versions:
                try:
                    found[version] = client.metadata(version=version).default
                except (TFServingError, KeyError):
                    continue
    except TFServingError:
        pass  # the server is gone: the view says signatures were not fetched
    return found


def _cancel(manager: RunManager, run_ids: Sequence[str], key_prefix: str) -> None:
    try:
        for run_id in run_ids:
            manager.cancel(run_id)
    except (NotAllowed, LookupError, StoreError) as exc:
        st.session_state[f"{key_prefix}_cancel_error"] = str(exc)


def side_progress_text(name: str, progress: Progress) -> str:
    """"A: version 1: 40 / 100 images · 12.5 images/s · about 5 s left · 0 errors so far" while it runs, else
    its outcome ("complete: 100 of 100 image(s) classified")."""
    if progress.status == "running":
        return f"{name}: {run_progress.progress_text(progress)}"
    return f"{name}: {progress.outcome}"


def probe_text(done: int, total: int) -> str:
    return (f"Measuring each side's latency on its own (one side at a time, one image per request): {done} of "
            f"{total or '…'} requests.")


@st.fragment(run_every=0.5)
def _progress(manager: RunManager, run_ids: tuple[str, ...], names: tuple[str, ...], key_prefix: str,
              may_cancel: bool = False, comparison_id: str | None = None) -> None:
    """Each side's progress (images/s and time left while it runs), then the latency probe's, redrawn twice a
    second, with Cancel when this visitor `may_cancel` (else who can); the whole page reruns when the job ends."""
    active = False
    for run_id, name in zip(run_ids, names):
        progress = manager.progress(run_id)
        active = active or manager.is_active(run_id) or progress.status in ("queued", "running")
        share = progress.done / progress.total if progress.total else 1.0
        st.progress(share, text=escape_markdown(side_progress_text(name, progress), limit=None))
    if comparison_id is not None and (probing := manager.probe_progress(comparison_id)) is not None:
        done, total = probing
        st.progress(done / total if total else 0.0, text=probe_text(done, total))
    if not active:
        st.rerun(scope="app")
    if message := st.session_state.pop(f"{key_prefix}_cancel_error", None):
        st.error(escape_markdown(message), icon=":material/block:")
    if may_cancel:
        st.button("Cancel", key=f"{key_prefix}_cancel", on_click=_cancel, args=(manager, run_ids, key_prefix),
                  help="Stop every side; the images already classified stay stored")
    else:
        st.caption(WHO_MAY_CANCEL)


def _thumbnails_pending(store: Store, manager: RunManager, comparison_id: str) -> bool:
    """Whether the first side's thumbnails (the only side that keeps them) are still being stored here."""
    comparison = store.get_comparison(comparison_id)
    return comparison is not None and manager.thumbnails_pending(comparison.baseline_run_id)


def _run_summaries(loaded: stored.StoredComparison) -> None:
    for run in loaded.runs:
        text = f"{stored.side_name(run)}: {run.outcome()}"
        if run.status == "complete" and not run.errors:
            st.caption(escape_markdown(text, limit=None))
        else:
            st.warning(escape_markdown(text, limit=None))


def _correction_callback(store: Store, loaded: stored.StoredComparison, key_prefix: str):
    def save(source: str, correction: str | None) -> None:
        try:
            stored.correct_everywhere(store, loaded.run_ids, source, correction, loaded.class_names)
        except (ValueError, StoreError) as exc:
            st.session_state[f"{key_prefix}_correction_error"] = str(exc).replace(store.url, "the run store")
        else:
            st.session_state.pop(f"{key_prefix}_correction_error", None)
    return save


def render_comparison(store: Store, manager: RunManager | None, comparison_id: str, *, key_prefix: str = "compare",
                      labels_now: Mapping[str, int] | None = None, versions_now: Sequence[int] = ()) -> None:
    """Everything about one stored comparison. `manager` shows progress and cancels while its runs are active
    (None: read-only); `labels_now`/`versions_now` (what the server serves now) make the promotion snippet."""
    try:
        # Asked before the thumbnails are read: once none are pending, the ones read are all there will be.
        thumbnails_coming = manager is not None and _thumbnails_pending(store, manager, comparison_id)
        loaded = stored.load_comparison(store, comparison_id)
    except StoreError as exc:
        st.error(escape_markdown(f"The comparison cannot be read: {str(exc).replace(store.url, 'the run store')}"))
        return
    if loaded is None:
        st.error(escape_markdown(f"No comparison {comparison_id} is stored (it may have been deleted)."))
        return
    first = loaded.runs[0]
    st.caption(escape_markdown(
        f"Comparison {comparison_id} of model {first.model}, {first.total} image(s), started "
        f"{loaded.comparison.created_at:%Y-%m-%d %H:%M:%S} UTC. Link:", limit=None))
    st.code(share_url(comparison_id), language=None)
    visitor = access.actor()
    if note := ownership_note(visitor, first):
        st.caption(note)
    names = tuple(stored.side_name(run) for run in loaded.runs)
    if manager is not None and any(manager.is_active(r) for r in loaded.run_ids):   # the runs, then the probe
        _progress(manager, tuple(loaded.run_ids), names, key_prefix,
                  may_cancel=all(visitor.may_act(run) for run in loaded.runs), comparison_id=comparison_id)
        return
    _run_summaries(loaded)
    run_progress.thumbnails_slot(first.id, thumbnails_coming)
    if empty := [name for name, run in zip(names, loaded.runs) if run.succeeded == 0]:
        st.info(escape_markdown(f"No verdict: {', '.join(empty)} classified no image, so there is nothing to "
                                "compare.", limit=None))
        return
    if len(names) != len(set(names)):
        names = tuple(f"{i + 1}. {name}" for i, name in enumerate(names))
    left, right = st.columns(2)
    baseline = left.selectbox("Baseline (A)", range(len(names)), format_func=lambda i: names[i],
                              key=f"{key_prefix}_baseline_{comparison_id}",
                              help="Every other target is decided against it")
    policy = right.radio("Different class sets", list(CLASS_POLICIES), format_func=CLASS_POLICIES.get,
                         key=f"{key_prefix}_classes_{comparison_id}", horizontal=True)
    versions = tuple(sorted({run.version for run in loaded.runs if run.version is not None}))
    signatures = _signatures(first.url, first.model, versions)
    try:
        results = stored.decisions(loaded, baseline, classes=policy, signatures=signatures)
    except ClassSetMismatch as exc:
        st.error(escape_markdown(f"These targets cannot be compared: {exc}", limit=None))
        return
    if message := st.session_state.get(f"{key_prefix}_correction_error"):
        st.error(escape_markdown(message))
    others = [run for index, run in enumerate(loaded.runs) if index != baseline]
    on_correction = _correction_callback(store, loaded, key_prefix)
    open_image = next((opener for run, rows in zip(loaded.runs, loaded.rows)
                       if (opener := full_image.image_opener(run, rows, visitor)) is not None), None)
    tabs = st.tabs([escape_markdown(f"B: {r.b}") for r in results]) if len(results) > 1 else [st.container()]
    positions = [index for index in range(len(loaded.runs)) if index != baseline]
    for index, (tab, result, other) in enumerate(zip(tabs, results, others)):
        plan = stored.promotion_for(result, loaded.runs[baseline], other, labels_now=labels_now,
                                     versions_now=versions_now)
        with tab:
            render_decision(result, key_prefix=f"{key_prefix}_{index}", thumbnails=loaded.thumbnails,
                            on_correction=on_correction, promotion=plan,
                            image_of=functools.partial(stored.detail_image, loaded, baseline, positions[index]),
                            open_image=open_image)
    if (on_dataset := next((run for run in loaded.runs if run.dataset_id is not None), None)) is not None:
        run_images.corrections_offer(on_dataset, key_prefix)   # corrections are made on every side alike
    if thumbnails_coming:
        manager.results_drawn(first.id)   # the first side's thumbnails waited for this drawing (thumbnail_pool)


# -- before a run ----------------------------------------------------------------------------------
@st.cache_resource(ttl=60, show_spinner="Reading the targets' signatures…")
def _target_checks(url: str, model: str, targets: tuple, profiles_key: tuple,
                   _profiles: ProfileChooser) -> list[before_run.TargetCheck]:
    # Cached briefly: every rerun of the form would otherwise ask the server (and probe each version) again.
    return before_run.check_targets(url, model, targets, profiles=_profiles)


def target_checks(url: str, model: str, targets: tuple,
                  profiles: ProfileChooser | None = None) -> list[before_run.TargetCheck]:
    """Each target checked with the profile a run of it would use (cached for a minute per profile choice)."""
    profiles = profiles or ProfileChooser(model)
    return _target_checks(url, model, targets, profiles.key, profiles)


def render_target_checks(checks: Sequence[before_run.TargetCheck], baseline: int, *, key_prefix: str) -> bool:
    """Errors, A = B warnings, class-set notes and the signatures side by side (differences highlighted);
    True when the targets can be compared."""
    usable = True
    for check in checks:
        if check.error is not None:
            st.error(escape_markdown(f"{check.target.describe()}: {check.error}", limit=1200),
                     icon=":material/error:")
            usable = False
    for warning in before_run.same_target_warnings(checks):
        st.warning(escape_markdown(warning, limit=None), icon=":material/content_copy:")
    for warning in before_run.profile_warnings(checks):
        st.warning(escape_markdown(warning, limit=None), icon=":material/tune:")
    if not usable:
        return False
    try:
        for note in before_run.class_set_notes(checks, baseline):
            st.info(escape_markdown(note, limit=None))
    except ClassSetMismatch as exc:
        st.error(escape_markdown(exc, limit=None))
        return False
    table = before_run.signature_table(checks)
    with st.expander("Signatures side by side", expanded=bool(table["differs"].any())):
        def highlight(row):
            return ["background-color: #fff3cd" if row["differs"] else ""] * len(row)
        st.dataframe(table.style.apply(highlight, axis=1), hide_index=True, key=f"{key_prefix}_signatures")
    return True


def truth_controls(names: Sequence[str], class_names: Sequence[str], *, key_prefix: str):
    """Ground truth for `names` as Classify finds it (client.truth.detect_truth): method, optional truth file,
    summary and the mapping editor for values that match no class. Returns the TruthDetection."""
    from client.truth import METHODS, TruthFileError, detect_truth
    from dashboard.evaluate.truth_view import render_truth_mapping, render_truth_summary, truth_table_of

    left, right = st.columns([1, 2])
    method = left.selectbox("Ground truth", METHODS, key=f"{key_prefix}_truth_method",
                            help="auto: a truth file if given, else folder names, else file names")
    # No `type=`: Streamlit's own file-type check raises on a NUL in a file name before the page can say so.
    upload = right.file_uploader("Truth file (CSV source,label or JSON)", key=f"{key_prefix}_truth_file",
                                 help="A file named .json is read as JSON, any other as CSV; at most 5 MiB"
                                 ) if method in ("auto", "file") else None
    table = None
    if upload is not None:
        try:
            table = truth_table_of(upload)   # parsed once per content, not on every rerun
        except TruthFileError as exc:
            st.error(escape_markdown(exc), icon=":material/error:")
    mapping_key = f"{key_prefix}_truth_mapping_chosen"
    try:
        detection = detect_truth(names, class_names, method=method, truth_file=table,
                                 mapping=st.session_state.get(mapping_key))
    except ValueError as exc:
        st.error(escape_markdown(exc), icon=":material/error:")
        return detect_truth(names, class_names, method="none")
    render_truth_summary(detection)
    mapping = render_truth_mapping(detection, class_names, key_prefix=key_prefix)
    if mapping != (st.session_state.get(mapping_key) or {}):
        st.session_state[mapping_key] = mapping
        detection = detect_truth(names, class_names, method=method, truth_file=table, mapping=mapping)
    return detection
