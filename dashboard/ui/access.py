"""Who this visitor is (dashboard.runs.ownership.Actor): their browser, known by a random token it keeps in a
cookie, and whether they typed the operator token in the sidebar.

The browser's token lives in the cookie `servescope_browser` (one year, Path=/, SameSite=Strict, Secure over
https). Streamlit hands a session the cookies its browser sent when it connected (st.context.cookies) but cannot set
one, so when the browser has none, a small st.components.v2 component (inline JavaScript, run in the page, no
iframe) writes the session's new token: the browser's next sessions (a reload, a new tab) send it back, and another
browser, or a private window, has a token of its own. Until then the session keeps its token itself. The store
keeps only the token's SHA-256 digest with each run (RunInfo.started_by).

Limits: a browser that refuses the cookie (or JavaScript) is a new browser in every session; two tabs opened before
the first ever wrote the cookie end up with the first one's token, so the runs the other tab started are its own
only until it reloads.
"""
from __future__ import annotations

import streamlit as st

from dashboard import config
from dashboard.plain import escape_markdown
from dashboard.runs.ownership import Actor, is_browser_token, is_operator_token, new_browser_token, token_digest

__all__ = ["COOKIE", "OPERATOR_FIELD", "actor", "browser_token", "is_operator", "sidebar"]

COOKIE = "servescope_browser"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
OPERATOR_FIELD = "sidebar_operator_token"
_TOKEN = "access_browser_token"            # this session's browser token

_WRITE_COOKIE = """
export default function ({ data }) {
  const prefix = data.name + "=";
  const kept = document.cookie.split("; ").find((cookie) => cookie.startsWith(prefix));
  if (kept && /^[A-Za-z0-9_-]{32,128}$/.test(kept.slice(prefix.length))) {
    return;  // another session of this browser wrote it first: that one stays the browser's token
  }
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${prefix}${data.token}; Path=/; Max-Age=${data.max_age}; SameSite=Strict${secure}`;
}
"""
_cookie_writer = st.components.v2.component("servescope_browser_cookie", js=_WRITE_COOKIE)


def browser_token() -> str:
    """This browser's token: the cookie it sent, else one made for this session (and written by sidebar())."""
    token = st.session_state.get(_TOKEN)
    if token is None:
        sent = st.context.cookies.get(COOKIE)
        token = sent if is_browser_token(sent) else new_browser_token()
        st.session_state[_TOKEN] = token
    return token


def is_operator() -> bool:
    """True when the sidebar's operator field holds SERVESCOPE_OPERATOR_TOKEN."""
    try:
        configured = config.operator_token()
    except config.FieldError:
        return False
    return is_operator_token(str(st.session_state.get(OPERATOR_FIELD) or ""), configured)


def actor() -> Actor:
    """This visitor, for dashboard.runs.ownership's checks."""
    return Actor(token_digest(browser_token()), is_operator())


def sidebar() -> None:
    """Drawn in the sidebar of every page: writes the browser's cookie when it sent none, and offers the operator
    field when the operator configured SERVESCOPE_OPERATOR_TOKEN."""
    token = browser_token()
    with st.sidebar:
        if st.context.cookies.get(COOKIE) != token:
            _cookie_writer(key="access_cookie_writer", data={"name": COOKIE, "token": token,
                                                             "max_age": COOKIE_MAX_AGE_S})
        try:
            configured = config.operator_token()
        except config.FieldError as exc:
            st.error(escape_markdown(exc), icon=":material/admin_panel_settings:")
            return
        if configured is None:
            return
        with st.expander("Operator", icon=":material/admin_panel_settings:"):
            typed = st.text_input("Operator token", type="password", key=OPERATOR_FIELD,
                                  help="The operator's token (SERVESCOPE_OPERATOR_TOKEN) lets you cancel or delete "
                                       "any run, delete any dataset and clear History")
            if typed and is_operator():
                st.caption("You act as an operator: you can cancel or delete any run or dataset.")
            elif typed:
                st.caption("That is not the operator token.")
