"""Two small browser components (st.components.v2, no iframe): a keyboard listener for the image detail view and a
grid of clickable thumbnail tiles.

Nothing from a file or a server becomes HTML here: the tiles' captions are set as text (textContent) and their
pictures only from `data:image/jpeg;base64,` or `data:image/svg+xml;base64,` URIs the dashboard made itself (any
other source is dropped by tile_grid before it reaches the browser).
"""
from __future__ import annotations

import re
from typing import Sequence

import streamlit as st

__all__ = ["KEYS", "key_listener", "tile_grid", "safe_image_uri"]

# The keys the listener reports: digits pick a class, Enter saves and moves on, the arrows move through the queue.
KEYS = frozenset({*"123456789", "Enter", "ArrowLeft", "ArrowRight"})

_KEYS_JS = """
export default function(component) {
  const { setTriggerValue, parentElement } = component;
  const mark = document.createElement("span");   // says the listener is on (the browser tests wait for it)
  mark.setAttribute("data-testid", "servescope-keys");
  mark.hidden = true;
  parentElement.replaceChildren(mark);
  const typing = (element) => element && (element.isContentEditable || element.tagName === "TEXTAREA" ||
      (element.tagName === "INPUT" && !["radio", "checkbox", "button"].includes(element.type)));
  const onKey = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const key = event.key;
    if (!(/^[1-9]$/.test(key) || key === "Enter" || key === "ArrowLeft" || key === "ArrowRight")) return;
    if (key === "Enter" && event.target && event.target.tagName === "BUTTON") return;  // the button's own press
    event.preventDefault();
    setTriggerValue("key", key);
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
"""

_TILES_CSS = """
.tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.tile { width: 112px; cursor: pointer; border: 1px solid rgba(128,128,128,.35); border-radius: 6px; padding: 6px;
        background: transparent; text-align: left; font: inherit; color: inherit; }
.tile:hover, .tile:focus { border-color: #ff4b4b; outline: none; }
.tile img { display: block; max-width: 96px; max-height: 96px; margin: 0 auto 4px; }
.tile span { display: block; font-size: 12px; line-height: 1.25; overflow-wrap: anywhere; }
"""

_TILES_JS = """
export default function(component) {
  const { data, setTriggerValue, parentElement } = component;
  const grid = document.createElement("div");
  grid.className = "tiles";
  (data.tiles || []).forEach((tile, index) => {
    const button = document.createElement("button");
    button.className = "tile";
    button.type = "button";
    button.setAttribute("data-testid", "servescope-tile");
    button.setAttribute("aria-label", tile.caption);
    if (tile.src) {
      const picture = document.createElement("img");
      picture.src = tile.src;
      picture.alt = "";
      button.appendChild(picture);
    }
    const caption = document.createElement("span");
    caption.textContent = tile.caption;
    button.appendChild(caption);
    button.onclick = () => setTriggerValue("picked", index);
    grid.appendChild(button);
  });
  parentElement.replaceChildren(grid);
}
"""

_listener = st.components.v2.component("servescope_keys", js=_KEYS_JS)
_tiles = st.components.v2.component("servescope_tiles", css=_TILES_CSS, js=_TILES_JS)
_SAFE_URI = re.compile(r"data:image/(jpeg|svg\+xml);base64,[A-Za-z0-9+/=]*")


def safe_image_uri(uri: object) -> str | None:
    """`uri` when it is a base64 data URI of a JPEG or SVG (what the dashboard makes), else None."""
    return uri if isinstance(uri, str) and _SAFE_URI.fullmatch(uri) else None


def key_listener(key: str) -> str | None:
    """Mount the keyboard listener (while it is on the page, keys typed outside text fields are reported) and
    return the key pressed since the last run (one of KEYS), or None."""
    result = _listener(key=key, on_key_change=lambda: None)
    pressed = getattr(result, "key", None) if result is not None else None
    return pressed if pressed in KEYS else None


def tile_grid(tiles: Sequence[tuple[str | None, str]], key: str) -> int | None:
    """Thumbnail tiles (picture URI, caption) in a wrapping grid, each at its own size; returns the index of the tile
    clicked since the last run, or None. Captions are shown as text; unsafe picture URIs are dropped."""
    data = {"tiles": [{"src": safe_image_uri(uri), "caption": str(caption)} for uri, caption in tiles]}
    result = _tiles(key=key, data=data, on_picked_change=lambda: None)
    picked = getattr(result, "picked", None) if result is not None else None
    return picked if isinstance(picked, int) and 0 <= picked < len(tiles) else None
