"""Classify's form: uploads (files and ZIPs, a folder, or a camera photo), the version, ground truth found on
the uploaded names (stated, overridable, with a mapping editor and a truth file), and the button that hands the
batch to the app's RunManager. Also which stored run the page shows (`?run=<id>`, this session's, the newest).

The uploaders name no file types: Streamlit's own type check raises for a file name holding a NUL character, which
would replace the page with its generic error. client.sources makes such a file that item's error row instead; any
other file that is not an image is an error row too when picked by name, and skipped (with its reason) inside an
uploaded folder. A truth file is read once per content (dashboard.evaluate.truth_view.truth_table_of). A run-store failure
names "the run store" on the page; its details (a path or a database URL) go to the log.
"""
from __future__ import annotations

import logging
from typing import Sequence

import streamlit as st

from client import ModelProfile, TFServingError
from client.sources import Item, Skipped, expand_uploads
from client.store import DatasetVersion
from client.truth import METHODS, TruthDetection, TruthFileError, detect_truth
from dashboard.config import FieldError
from dashboard.evaluate import truth_view
from dashboard.plain import escape_markdown
from dashboard.runs import results as classify_runs
from dashboard.runs.thumbnail_jpeg import thumbnail_jpeg
from dashboard.server.connection import NothingToClassify, configured_signature, probe_class_names
from dashboard.server.explain import explain
from dashboard.server.overview import ModelOverview
from dashboard.server.profiles import ProfileChoice
from client.store.database import StoreError
from dashboard.targets import Target
from dashboard.ui import dataset_source, profile_editor, state, widgets

__all__ = ["classify_form", "run_to_show", "skipped_of", "preview_of", "UPLOAD_HINT"]

LOG = logging.getLogger("servescope.dashboard")

PAGE = "classify"
GENERATION = "classify_upload_generation"   # bumped when a run takes the uploads: the widgets start empty
SKIPPED = "classify_skipped"                # run id -> archive members the upload left out
PREVIEW = "classify_preview"                # (run id, JPEG bytes) of a single image, shown large
MAPPING = "classify_truth_chosen"           # raw truth value -> class the analyst mapped it to
PREVIEW_SIDE = 640
UPLOAD_HINT = ("Upload one or more images (JPEG, PNG, GIF, BMP, WebP, TIFF), ZIP archives or a folder, then press "
               "Classify. Folders or file names that name the model's classes become the ground truth.")
METHOD_TEXT = {"auto": "automatic (truth file, else folders, else file names)", "folders": "folder names",
               "names": "leading word of the file names", "file": "a truth file (CSV or JSON)", "none": "none"}


def _store_failed(what: str, exc: StoreError) -> None:
    """Say `what` failed because of the run store, without its path or URL (which could carry a password); the
    store's own message goes to the log."""
    LOG.error("%s: %s", what, exc)
    widgets.show_error(f"{what}: the run store failed; the dashboard's log says why.")


@st.cache_data(ttl=300, show_spinner="Asking the model for its classes…", max_entries=64)
def _class_names(url: str, model: str, version: int | None, label: str | None, profile_digest: str | None,
                 _items: Sequence[Item], _profile: ModelProfile | None) -> tuple[str, ...]:
    return probe_class_names(url, model, Target(version, label), _items, profile=_profile)


def _target_version(target: Target, overview: ModelOverview | None) -> int | None:
    """The version the target names now, as far as the page knows (the run resolves it again)."""
    if target.version is not None or overview is None:
        return target.version
    if target.label is not None:
        return overview.labels.get(target.label)
    return max(overview.available_versions, default=None)


def _profile(connection: state.Connection, target: Target, overview: ModelOverview | None) -> ProfileChoice:
    """The profile this run would use, said under the version picker; a profile that cannot be used is an error
    naming its file and key (the Classify button waits for it to be fixed)."""
    choice = state.profile_chooser(connection.model).choose(_target_version(target, overview))
    if choice.problem is not None:
        widgets.show_error(f"The model profile cannot be used: {choice.problem.text}. Fix the file, or set a "
                           "profile for this session on the Models page.")
    else:
        st.caption(escape_markdown(f"Model profile: {profile_editor.choice_line(choice)}"))
    return choice


def _uploads(generation: int) -> tuple[list, bool]:
    """The uploaded files, and whether they are a folder's (whose non-image files are skipped, not errors); none
    when the run starts from a dataset (_from_dataset)."""
    kind = st.radio("Upload", ["Files or ZIP archives", "A folder", "Camera", dataset_source.DATASET_SOURCE],
                    horizontal=True, key="classify_upload_kind", label_visibility="collapsed")
    if kind == dataset_source.DATASET_SOURCE:
        return [], False
    if kind == "A folder":
        return st.file_uploader("A folder of images (its sub-folders can name the classes)",
                                accept_multiple_files="directory", key=f"classify_folder_{generation}") or [], True
    if kind == "Camera":
        photo = st.camera_input("Take a photo", key=f"classify_camera_{generation}")
        return [photo] if photo is not None else [], False
    return st.file_uploader("Images or ZIP archives of images", accept_multiple_files=True,
                            key="classify_uploads" if not generation else f"classify_uploads_{generation}") or [], False


def _expand(files: Sequence, folder: bool) -> tuple[list[Item], list[Skipped]]:
    skipped: list[Skipped] = []
    return list(expand_uploads(files, skipped=skipped, folder=folder)), skipped


def _truth(items: Sequence[Item], class_names: Sequence[str], generation: int) -> TruthDetection | None:
    """The ground truth for the uploaded names, stated; None when none is used."""
    left, right = st.columns([2, 3])
    method = left.selectbox("Ground truth", METHODS, key="classify_truth_method", format_func=METHOD_TEXT.get)
    truth_upload = right.file_uploader("Truth file (CSV or JSON: source,label)",
                                       key=f"classify_truth_file_{generation}",
                                       help="A file named .json is read as JSON, any other as CSV; at most 5 MiB")
    if method == "none":
        return None
    if not class_names:
        st.caption("Ground truth needs the model's classes, which could not be read; the run will have none.")
        return None
    table = None
    if truth_upload is not None:
        try:
            table = truth_view.truth_table_of(truth_upload)
        except TruthFileError as exc:
            widgets.show_error(exc)
    statement = st.container()
    chosen = st.session_state.get(MAPPING, {})
    try:
        detection = detect_truth([name for name, _ in items], class_names, method=method, truth_file=table,
                                 mapping=chosen)
    except ValueError as exc:
        widgets.show_error(exc, icon=":material/rule:")
        return None
    return _mapped_and_stated(detection, class_names, chosen, statement)


def _mapped_and_stated(detection: TruthDetection, class_names: Sequence[str], chosen: dict,
                       statement) -> TruthDetection | None:
    """The mapping editor for truth values no class matches (a changed mapping reruns the page with it), then the
    truth's summary in `statement` (a container placed above the editor); the detection when it found any truth."""
    mapped = {value: cls for value, cls in truth_view.render_truth_mapping(
        detection, class_names, key_prefix="classify").items() if cls is not None}
    if mapped != chosen:
        st.session_state[MAPPING] = mapped
        st.rerun()
    with statement:
        truth_view.render_truth_summary(detection)
    return detection if detection.truth else None


def _from_dataset() -> bool:
    return st.session_state.get("classify_upload_kind") == dataset_source.DATASET_SOURCE


def _dataset_truth(version: DatasetVersion, items: Sequence[Item], table: dict[str, str],
                   class_names: Sequence[str]) -> TruthDetection | None:
    """The dataset's truth matched to the model's classes, stated, with the mapping editor for values no class
    matches; None when it has none or the classes could not be read."""
    if not table:
        st.caption(escape_markdown(f"Dataset {version.reference} has no ground truth; the run will have none."))
        return None
    if not class_names:
        st.caption("Ground truth needs the model's classes, which could not be read; the run will have none.")
        return None
    chosen = st.session_state.get(MAPPING, {})
    detection = detect_truth([name for name, _ in items], class_names, method="file",
                             truth_file=(f"dataset {version.reference}", table), mapping=chosen)
    statement = st.container()
    return _mapped_and_stated(detection, class_names, chosen, statement)


def _hand_over(files: Sequence) -> None:
    """Drop the uploads from Streamlit's upload store (it keeps them for the session otherwise): the run's loaders
    hold them now, and the RunManager lets go once the run needs them no more. As st.chat_input does."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    if ctx is None or not isinstance(ctx.uploaded_file_mgr, MemoryUploadedFileManager):
        return
    for upload in files:
        if file_id := getattr(upload, "file_id", None):
            ctx.uploaded_file_mgr.remove_file(session_id=ctx.session_id, file_id=file_id)


def _submit(connection: state.Connection, files: Sequence, items: list[Item], skipped: list, target: Target,
            truth: TruthDetection | None, dataset: DatasetVersion | None = None, keep_images: bool = False) -> None:
    try:
        manager = state.run_manager()
        run_id = manager.submit_classify(connection.url, connection.model, items, version=target.version,
                                         label=target.label, session_id=state.session_id(),
                                         truth=truth.truth if truth else None,
                                         truth_summary=truth.summary if truth else None,
                                         probe_labels=connection.labels, dataset=dataset, keep_images=keep_images,
                                         profiles=state.profile_chooser(connection.model))
    except StoreError as exc:
        _store_failed("The run could not be stored", exc)
        return
    previous = state.current_run(PAGE)
    if previous in state.session_runs():
        manager.release(previous, "a newer run of this session replaced it on the page")
    state.set_current_run(PAGE, run_id, started_here=True)
    st.session_state[SKIPPED] = {run_id: tuple(skipped)}
    st.session_state[PREVIEW] = None
    if len(items) == 1:
        try:
            st.session_state[PREVIEW] = (run_id, thumbnail_jpeg(items[0][1](), side=PREVIEW_SIDE))
        except OSError:
            pass  # the run's row says what is wrong with the file
    st.session_state[GENERATION] = st.session_state.get(GENERATION, 0) + 1  # the run holds the uploads now
    _hand_over(files)
    st.query_params["run"] = run_id
    st.rerun()


@st.fragment
def classify_form(connection: state.Connection) -> ModelOverview | None:
    """Draw the form; pressing Classify starts a background run. Returns the model overview (None when the
    server could not say) on a full run of the page.

    A fragment: uploading, choosing a version or pressing Classify reruns the form alone, not the stored run the
    page draws below it (so the press does not wait for a run's evaluation to be drawn); starting a run, or changing
    the truth mapping, reruns the whole page. The upload hint shows while nothing is uploaded and the page shows no
    run (run_to_show chose none before the form was drawn)."""
    try:
        signature = configured_signature()
    except FieldError as exc:
        widgets.show_error(exc)
        return None
    overview = widgets.load_overview(connection, quiet=signature is not None)
    if signature is not None and overview is None:
        st.info(escape_markdown(
            "This server does not serve TF Serving's status and metadata API (e.g. a KServe route): versions, "
            "labels and signatures are not available from it. Images are classified with the signature the "
            f"operator configured (SERVESCOPE_SIGNATURE): classes {', '.join(signature.class_names)}."),
            icon=":material/info:")
    generation = st.session_state.get(GENERATION, 0)
    files, folder = _uploads(generation)
    dataset = dataset_source.pick_dataset("classify") if _from_dataset() else None
    target = widgets.target_selector("Model version", key="classify_target", overview=overview)
    choice = _profile(connection, target, overview)
    items, skipped, table = [], [], {}
    if dataset is not None:
        try:
            items, table = dataset_source.dataset_items(dataset)
        except StoreError as exc:
            widgets.show_error(f"The dataset's images cannot be read: {exc}")
    elif files:
        items, skipped = _expand(files, folder)
    truth = None
    if items and choice.problem is None:
        try:
            class_names = _class_names(connection.url, connection.model, target.version, target.label,
                                       choice.profile.digest if choice.profile else None, items, choice.profile)
        except TFServingError as exc:
            widgets.show_error(explain(exc, connection.url, connection.model), icon=":material/power_off:")
            class_names = ()
        truth = _dataset_truth(dataset, items, table, class_names) if dataset is not None else \
            _truth(items, class_names, generation)
    keep_images = dataset_source.keep_images_box("classify") if files else False
    if items and dataset is None:
        dataset_source.save_as_dataset(items, truth.truth if truth else None, key_prefix=f"classify_{generation}")
    if st.button("Classify", key="classify_run", type="primary", disabled=(not files and not items) or choice.problem is not None):
        if not items:
            widgets.show_error(NothingToClassify("classify", skipped))
        else:
            _submit(connection, files, items, skipped, target, truth, dataset, keep_images)
    if not files and dataset is None and state.current_run(PAGE) is None:
        st.info(UPLOAD_HINT)
    return overview


def run_to_show() -> str | None:
    """The run the page shows: `?run=<id>` when the address names one, else this session's, else the newest
    stored classify run (a reload or a new tab finds the last run). The address then names it."""
    asked = st.query_params.get("run")
    if asked and asked != state.current_run(PAGE):
        try:
            classify_runs.run_query_params(asked)
        except ValueError:
            widgets.show_error(f"The address names no run: {asked}", icon=":material/link_off:")
            return None
        state.set_current_run(PAGE, asked)
    current = state.current_run(PAGE)
    if current is None:
        try:
            newest = state.run_store().list_runs(kind="classify", limit=1)
        except StoreError as exc:
            _store_failed("The stored runs cannot be read", exc)
            return None
        if not newest:
            return None
        current = newest[0].run.id
        state.set_current_run(PAGE, current)
        st.caption(escape_markdown(f"Showing the newest stored run ({current}); classify images to start another."))
    if st.query_params.get("run") != current:
        st.query_params["run"] = current
    return current


def skipped_of(run_id: str) -> tuple:
    return st.session_state.get(SKIPPED, {}).get(run_id, ())


def preview_of(run_id: str) -> bytes | None:
    kept = st.session_state.get(PREVIEW)
    return kept[1] if kept and kept[0] == run_id else None
