""""What the model saw" for one image of a stored run, beside the image as uploaded: the tensor sent turned back into
a picture (dashboard.runs.seen), with its dtype, shape and value range. Any view of one image can call
`seen_by_model`; it needs the uploaded bytes, which this dashboard process keeps for a while after a run (its
RunManager, for the browser that started it), and says so when they are gone.
"""
from __future__ import annotations

import streamlit as st

from client import ImageError, InvalidArgumentError
from client.store.database import RunInfo, StoreError
from dashboard.plain import escape_markdown
from dashboard.runs.manager import ItemsUnavailable
from dashboard.runs.results import assumed_note
from dashboard.runs.seen import enlarged, what_the_model_saw
from dashboard.ui import state

__all__ = ["seen_by_model"]

SHOWN_SIDE = 256   # both pictures are drawn this wide; a small tensor is enlarged square by square


def _image_bytes(run: RunInfo, position: int) -> bytes | None:
    """The uploaded bytes of the run's image at `position`, while this process holds them for this visitor."""
    try:
        items = state.run_manager().items_of(run.id)
        return items[position][1]() if 0 <= position < len(items) else None
    except (ItemsUnavailable, StoreError, OSError, LookupError):
        return None


def seen_by_model(run: RunInfo, position: int, source: str) -> None:
    """The image at `position` of `run` as uploaded and as the model saw it (see the module)."""
    st.markdown("**What the model saw**")
    profile = run.profile
    if profile is None:
        st.caption("This run recorded no model profile (it was stored before profiles were), so what the model saw "
                   "cannot be shown.")
        return
    tensor = profile.input_tensor or {}
    if tensor.get("dtype") == "DT_STRING":
        st.caption(escape_markdown("The model received the encoded image and prepared it itself (its signature's "
                                   f"input {tensor.get('name')} is DT_STRING): it saw the upload as it is.",
                                   limit=None))
        return
    data = _image_bytes(run, position)
    if data is None:
        st.caption("The uploaded image is no longer held by this dashboard (it keeps a run's uploads for a while, for "
                   "the browser that started it): classify it again to see what the model saw.")
        return
    try:
        seen = what_the_model_saw(source, data, profile)
    except (ImageError, InvalidArgumentError, ValueError) as exc:
        st.caption(escape_markdown(f"What the model saw cannot be shown: {exc}"))
        return
    if seen is None:
        return
    left, right = st.columns(2)
    left.image(seen.original, width=SHOWN_SIDE,
               caption=f"As uploaded, upright: {seen.original.width}×{seen.original.height}")
    right.image(enlarged(seen.seen, SHOWN_SIDE), width=SHOWN_SIDE,
                caption=f"As the model saw it: {seen.seen.width}×{seen.seen.height}, channels in the order sent")
    st.text(f"Sent: {seen.summary}")
    note = assumed_note(run.model, profile)   # the run view warns above; here it is said beside the picture
    st.caption(escape_markdown(note[0].upper() + note[1:] + "." if note else f"Preparation: {seen.preparation}",
                               limit=1200))
