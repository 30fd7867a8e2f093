"""The skew finder's page, top half: the target, what the finder keeps (a base profile), the images and their
ground truth, the sample size and the cost before it runs, and the run itself (dashboard.skew.finder, on this
page's script run with a progress bar). The result is drawn by dashboard.skew.result_view. Streamlit-facing.

A finding is kept in the session for the server, model and target it was made for; text from files and servers
reaches the page as plain text (dashboard.plain).
"""
from __future__ import annotations

import json
from typing import Sequence

import streamlit as st

from client import InvalidArgumentError, ModelProfile, TFServingError
from client.sources import Item
from dashboard.compare import view as compare_view
from dashboard.plain import escape_markdown
from dashboard.server.connection import NothingToClassify, probe_class_names
from dashboard.server.explain import explain
from dashboard.server.overview import ModelOverview
from dashboard.skew.candidates import KEPT_INPUT, candidates
from dashboard.skew.finder import DEFAULT_SAMPLE, Finding, find_preparation
from dashboard.targets import Target
from dashboard.ui import state, widgets

__all__ = ["FINDING", "finder_form", "shown_finding"]

FINDING = "skew_finding"        # (url, model, Finding, truth, truth summary) of the last run on this page
MAX_SAMPLE = 1000
ABOUT = ("Classifies a sample of your images under each preset and a small grid (scale × resize × channel order) "
         "and ranks how well each fits: accuracy when the images are labelled (folder or file names, or a truth "
         "file), otherwise a confidence heuristic. The finder searches the range, mean/std, channel order and "
         f"resize mode; it keeps the rest of the profile below ({', '.join(KEPT_INPUT)}, class names, "
         "signature, output).")


@st.cache_data(ttl=300, show_spinner="Asking the model for its classes…", max_entries=64)
def _probed_classes(url: str, model: str, version: int | None, label: str | None, _items: Sequence[Item]
                    ) -> tuple[str, ...]:
    try:
        return probe_class_names(url, model, Target(version, label), _items)
    except TFServingError:
        return ()


def _base_profile(model: str) -> tuple[ModelProfile | None, bool]:
    """The profile the finder keeps parts of: this session's for `model`, as JSON the analyst may edit.
    (profile or None, usable)."""
    session = state.session_profile(model)
    text = json.dumps(session.to_dict(inline_class_names=True), indent=2, ensure_ascii=False) if session else ""
    typed = st.text_area("What the finder keeps: a model profile (JSON; empty for none)", value=text,
                         key=f"skew_base_{model}_{session.digest if session else 'none'}", height=110,
                         help="Class names (when the model has no output naming them), the output, the "
                              "signature, and the input's size, layout, resample and crop fraction. "
                              "This session's profile for the model is filled in.")
    if not typed.strip():
        return None, True
    try:
        return ModelProfile.from_json(typed), True
    except InvalidArgumentError as exc:
        widgets.show_error(f"The profile: {exc}", icon=":material/data_object:")
        return None, False


def shown_finding(url: str, model: str) -> tuple[Finding, dict, str | None] | None:
    """The finding this session made last for this server and model, its truth and the truth's summary."""
    kept = st.session_state.get(FINDING)
    if kept is None or kept[0] != url or kept[1] != model:
        return None
    return kept[2], kept[3], kept[4]


def finder_form(connection: state.Connection, overview: ModelOverview | None) -> list[Item]:
    """Everything before the run, and the run when the button is pressed. Returns the uploaded items (the
    result view offers to compare two preparations of them as a stored comparison)."""
    st.caption(ABOUT)
    target = widgets.target_selector("Version", "skew_target", overview)
    base, usable = _base_profile(connection.model)
    files = st.file_uploader("Images or ZIP archives of images (labelled by folder or file names)",
                             accept_multiple_files=True, key="skew_uploads") or []
    items, skipped = widgets.expand(files) if files else ([], [])
    widgets.show_skipped(skipped)
    truth, summary = {}, None
    if items and usable:
        classes = tuple(base.class_names or ()) if base is not None else ()
        classes = classes or _probed_classes(connection.url, connection.model, target.version, target.label,
                                             tuple(items))
        if classes:
            detection = compare_view.truth_controls([name for name, _ in items], classes, key_prefix="skew")
            truth, summary = detection.truth, detection.summary
        else:
            st.caption("The model's classes could not be read without a profile naming them, so ground truth "
                       "cannot be matched: give class_names above to rank by accuracy.")
    sample = st.number_input("Images per preparation", min_value=1, max_value=MAX_SAMPLE, value=DEFAULT_SAMPLE,
                             step=10, key="skew_sample",
                             help="A seeded sample of the labelled images (of all, without ground truth)")
    tries = len(candidates(base)) if usable else 0
    pool = sum(1 for name, _ in items if name in truth) or len(items)
    images = min(pool, int(sample))
    if items:
        st.caption(f"Cost: up to {tries} preparations × {images} image(s) = {tries * images:,} images sent "
                   "(preparations that send the same pixels are sent once).")
    if not st.button("Find the preparation", type="primary", key="skew_run", disabled=not (items and usable)):
        return items
    _run(connection, target, base, items, skipped, truth, summary, int(sample))
    return items


def _run(connection: state.Connection, target: Target, base: ModelProfile | None, items: list[Item], skipped,
         truth: dict, summary: str | None, sample: int) -> None:
    bar = st.progress(0.0, text="Starting…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(done / total if total else 1.0,
                     text=escape_markdown(f"{name}: {done:,} of {total:,} images" if name else "Ranking…"))
    try:
        if not items:
            raise NothingToClassify("classify", skipped)
        finding = find_preparation(connection.url, connection.model, items, target=target, base=base,
                                   truth=truth, sample_size=sample, on_progress=progress)
    except NothingToClassify as exc:
        widgets.show_error(exc)
        return
    except TFServingError as exc:
        widgets.show_error(explain(exc, connection.url, connection.model))
        return
    finally:
        bar.empty()
    st.session_state[FINDING] = (connection.url, connection.model, finding, dict(truth), summary)
