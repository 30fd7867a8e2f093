"""The image detail view: one image large, its probabilities (A and B side by side in Compare), its truth, the
correction control and where the model looked, in a dialog opened by clicking a row or a tile anywhere (the
results table, the review queue, a confusion or flip cell's images, the changed images, the mistakes).

A page opens it by passing a table's selection (follow_table) or a tile grid's click (follow_tiles) with the images
that table lists, which become the queue the view steps through; it draws it with show_if_open, giving the
function that describes one image (a dashboard.evaluate.detail.DetailImage) and the one that saves a correction.
Keys while it is open: 1–9 pick a class (no class is chosen for the analyst), Enter saves and moves to the next
image of the queue, ← and → move without saving.

Strings that came from files or servers (file names, classes, truth values) are shown through st.text, st.radio
options or escaped Markdown.
"""
from __future__ import annotations

import functools
import hashlib
from typing import Callable, Sequence

import streamlit as st

from client import TFServingError
from dashboard import charts
from dashboard.evaluate import occlusion
from dashboard.evaluate.detail import DetailImage, Queue, SideView, class_for_key, thumbnail_bytes, truth_line
from dashboard.plain import escape_markdown, visible
from dashboard.server.connection import open_client
from dashboard.ui import components

__all__ = ["open_detail", "close_detail", "opened", "follow_table", "follow_tiles", "show_if_open", "render_body",
           "render_where_it_looked", "IMAGE_WIDTH", "MAP_BUTTON"]

ImageOf = Callable[[str], "DetailImage | None"]
Correct = Callable[[str, "str | None"], None]
SeenOf = Callable[[str], None]   # source -> draws what the model saw of it
IMAGE_WIDTH = 288            # the stored <= 96 px thumbnail, drawn three times its size
MAP_BUTTON = "Where did the model look?"
SAVE_BUTTON = "Save and next (Enter)"


def _state(key: str) -> str:
    return f"{key}_detail"


def opened(key: str) -> Queue | None:
    found = st.session_state.get(_state(key))
    return found if isinstance(found, Queue) else None


def open_detail(key: str, queue: Queue) -> None:
    st.session_state[_state(key)] = queue


def close_detail(key: str) -> None:
    st.session_state.pop(_state(key), None)


def follow_table(event: object, sources: Sequence[str], *, key: str, table_key: str, queue_name: str) -> None:
    """A row newly selected in a st.dataframe (on_select="rerun", single-row) opens the view on that row's image,
    with the table's images as the queue. A selection seen before opens nothing (so closing the view does not
    reopen it); clicking the row again, or another, does."""
    selection = (event or {}).get("selection") or {}
    rows = tuple(selection.get("rows") or ())
    seen = f"{table_key}_seen"
    if rows == st.session_state.get(seen):
        return
    st.session_state[seen] = rows
    if rows and 0 <= rows[0] < len(sources):
        open_detail(key, Queue(queue_name, tuple(sources), rows[0]))


def follow_tiles(tiles: Sequence[tuple[str | None, str]], sources: Sequence[str], *, key: str, tiles_key: str,
                 queue_name: str) -> None:
    """Draw clickable thumbnail tiles (dashboard.ui.components.tile_grid); a click opens the view on that image."""
    picked = components.tile_grid(tiles, tiles_key)
    if picked is not None:
        open_detail(key, Queue(queue_name, tuple(sources), picked))


def show_if_open(key: str, *, class_names: Sequence[str], image_of: ImageOf, on_correction: Correct | None,
                 seen_of: SeenOf | None = None) -> None:
    """Draw the dialog when the view is open for `key` (call once per page run, after the tables that open it).
    `seen_of(source)` draws what the model saw of that image (dashboard.ui.seen_view), when the page can."""
    queue = opened(key)
    if queue is None:
        return
    dialog = st.dialog("One image", width="large", on_dismiss=functools.partial(close_detail, key))
    dialog(_dialog_body)(key, tuple(class_names), image_of, on_correction, seen_of)


def _dialog_body(key: str, class_names: tuple[str, ...], image_of: ImageOf, on_correction: Correct | None,
                 seen_of: SeenOf | None = None) -> None:
    queue = opened(key)   # read here, not passed: the dialog reruns on its own as the analyst steps through
    if queue is None:
        return
    image = image_of(queue.source)
    if image is None:
        st.info(escape_markdown(f"{queue.source} is no longer in this run."))
        return
    pressed = components.key_listener(f"{key}_keys")
    if pressed in ("ArrowLeft", "ArrowRight"):
        _move(key, queue, -1 if pressed == "ArrowLeft" else 1)
    render_body(image, key=key, class_names=class_names, on_correction=on_correction, queue=queue, pressed=pressed,
                seen_of=seen_of)


def _move(key: str, queue: Queue, step: int) -> None:
    moved = queue.moved(step)
    if moved.index != queue.index:
        open_detail(key, moved)
        st.rerun(scope="fragment")


def _widget_key(key: str, what: str, source: str) -> str:
    return f"{key}_{what}_{hashlib.sha1(source.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def render_body(image: DetailImage, *, key: str, class_names: Sequence[str], on_correction: Correct | None,
                queue: Queue | None = None, pressed: str | None = None, seen_of: SeenOf | None = None) -> None:
    """The view's content (the dialog's, or inline for a run of one image): image, probabilities, truth, correction,
    where the model looked, and what the model saw (`seen_of`, when given)."""
    if queue is not None:
        st.caption(escape_markdown(queue.position_text))
    st.text(visible(image.name))
    picture, probabilities = st.columns([2, 3])
    with picture:
        data = thumbnail_bytes(image.thumbnail)
        if data is not None:
            st.image(data, width=IMAGE_WIDTH)
            st.caption("The stored thumbnail (at most 96 px), enlarged.")
        st.text(visible(image.source))
    with probabilities:
        _probabilities(image.sides)
    judging, looking = st.columns([2, 3])
    with judging:
        st.text(visible(truth_line(image)))
        if on_correction is not None:
            _correction(image, key, class_names, on_correction, queue, pressed)
        if queue is not None and len(queue.sources) > 1:
            _navigation(key, queue)
    with looking:
        render_where_it_looked(image, key)
    if seen_of is not None:
        seen_of(image.source)


def _probabilities(sides: Sequence[SideView]) -> None:
    columns = st.columns(len(sides)) if len(sides) > 1 else [st.container()]
    for column, side in zip(columns, sides):
        with column:
            title = f"{side.name}: class probabilities" if side.name else "Class probabilities"
            if side.probabilities is None:
                st.text(visible(f"{side.name or 'The model'} gave no answer: {side.error or 'failed'}"))
                continue
            st.altair_chart(charts.probability_chart(side.probabilities, title=visible(title)), width="stretch")
            if side.top5:
                st.altair_chart(charts.top5_chart(list(side.top5)), width="stretch")


def _correction(image: DetailImage, key: str, class_names: Sequence[str], on_correction: Correct,
                queue: Queue | None, pressed: str | None) -> None:
    choice_key = _widget_key(key, "class", image.source)
    if (chosen := class_for_key(pressed, class_names)) is not None:
        st.session_state[choice_key] = chosen          # set before the radio is drawn
    st.radio("True class (keys 1–9 pick one)", list(class_names), index=None, key=choice_key, horizontal=True,
             format_func=lambda name: visible(f"{list(class_names).index(name) + 1}: {name}"))
    chosen = st.session_state.get(choice_key)
    left, right = st.columns(2)
    save = left.button(SAVE_BUTTON, key=_widget_key(key, "save", image.source), type="primary",
                       disabled=chosen is None, icon=":material/check:")
    if image.corrected and right.button("Clear the correction", key=_widget_key(key, "clear", image.source)):
        on_correction(image.source, None)
        st.rerun()
    if (save or pressed == "Enter") and chosen is not None:
        on_correction(image.source, chosen)
        st.session_state.pop(choice_key, None)
        if queue is not None and not queue.at_end:
            open_detail(key, queue.moved(1))
        st.rerun()                                      # the whole page: its metrics count the correction
    elif pressed == "Enter" and queue is not None:
        _move(key, queue, 1)                            # nothing chosen: Enter moves on without saving


def _navigation(key: str, queue: Queue) -> None:
    back, on = st.columns(2)
    if back.button("← Previous", key=f"{key}_previous", disabled=queue.index == 0):
        _move(key, queue, -1)
    if on.button("Next →", key=f"{key}_next", disabled=queue.at_end):
        _move(key, queue, 1)


def _maps(key: str) -> dict:
    return st.session_state.setdefault(f"{key}_maps", {})


def render_where_it_looked(image: DetailImage, key: str) -> None:
    """The occlusion map of each side (A's and B's side by side in Compare), computed on demand through the serving
    API from the stored thumbnail, with its cost and resolution stated."""
    st.markdown("**Where the model looked**")
    data = thumbnail_bytes(image.thumbnail)
    sides = [side for side in image.sides if side.probabilities is not None]
    if data is None or not sides:
        st.caption("No map: this image has no stored thumbnail or no answer to explain.")
        return
    maps = _maps(key)
    missing = [side for side in sides if side.map_key(image.source) not in maps]
    if missing:
        per_side = (occlusion.DEFAULT_GRID ** 2) + 1
        offer = st.empty()   # the offer goes once the maps are made, in the same run
        with offer.container():
            st.caption(f"Masks each of {occlusion.DEFAULT_GRID} × {occlusion.DEFAULT_GRID} cells of the stored "
                       f"thumbnail in turn and asks the model again: {per_side} images in one request per side.")
            pressed = st.button(MAP_BUTTON, key=_widget_key(key, "map", image.source), icon=":material/visibility:")
        if not pressed:
            return
        with st.spinner("Asking the model server…"):
            for side in missing:
                maps[side.map_key(image.source)] = _compute(side, data)
        offer.empty()
    columns = st.columns(len(sides)) if len(sides) > 1 else [st.container()]
    for column, side in zip(columns, sides):
        with column:
            _draw_map(side, maps[side.map_key(image.source)], width="stretch" if len(sides) > 1 else "content")


def _compute(side: SideView, data: bytes) -> occlusion.OcclusionMap | str:
    try:
        with open_client(side.url, side.model) as client:
            return occlusion.occlusion_map(client, data, version=side.version,
                                           label=side.label if side.version is None else None)
    except (occlusion.OcclusionError, TFServingError) as exc:
        return str(exc)


def _draw_map(side: SideView, found: occlusion.OcclusionMap | str, width: str = "content") -> None:
    if isinstance(found, str):
        st.text(visible(f"{side.name + ': ' if side.name else ''}{found}"))
        return
    st.image(found.overlay, caption=escape_markdown(
        f"{side.name + ': ' if side.name else ''}red where masking lowers P({found.predicted_class}) most"),
        width=width)
    st.caption(escape_markdown(
        f"{found.cost_text()}; {found.resolution_text()}. P({found.predicted_class}) on the thumbnail: "
        f"{found.base_probability:.1%}; largest drop {max(float(found.drops.max()), 0.0):.1%}."
        + (f" {found.failed_cells} cell(s) got no answer." if found.failed_cells else "")))
