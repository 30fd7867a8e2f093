"""The request inspector's expander: a run's exchanges with the model server, as plain text (st.code / st.text /
st.dataframe: a server's body or error text never renders as Markdown)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.runs.inspector import BODY_CHARS, EXCHANGES_KEPT, RequestLog

__all__ = ["render_inspector", "first_shown", "PRIVATE"]

PRIVATE = ("A run's requests to the model server are shown only to the browser that started it, or an operator; "
           "its stored results above are shared.")


def _table(exchanges) -> pd.DataFrame:
    return pd.DataFrame({
        "time": [e.at.strftime("%H:%M:%S.%f")[:-3] for e in exchanges],
        "method": [e.method for e in exchanges], "url": [e.url for e in exchanges],
        "status": [e.status for e in exchanges], "latency_ms": [round(e.latency_ms, 1) for e in exchanges],
        "error": [e.error or "" for e in exchanges]})


def first_shown(exchanges) -> int:
    """The exchange the inspector opens on: the newest predict call (the run's own work), else the newest."""
    predicts = [i for i, exchange in enumerate(exchanges) if exchange.url.rstrip("/").endswith(":predict")]
    return predicts[-1] if predicts else len(exchanges) - 1


def render_inspector(log: RequestLog | None, *, key_prefix: str, private: bool = False) -> None:
    """Draw the inspector for one run's log (None: this process holds none for the run; `private`: the run's
    exchanges are not this visitor's to see, dashboard.runs.ownership)."""
    with st.expander("Request inspector"):
        if private:
            st.caption(PRIVATE)
            return
        if log is None:
            st.caption("This dashboard process holds no requests for this run (it ran in another process, before "
                       "a restart, or is older than the newest runs kept).")
            return
        exchanges, failures = log.exchanges(), log.failures()
        st.caption(f"{log.total} request(s) answered, {log.failed} with an error status; the newest "
                   f"{EXCHANGES_KEPT} of each are kept, base64 strings shortened, bodies cut to {BODY_CHARS} "
                   "characters. Requests that got no answer at all are the run's error rows.")
        if not exchanges:
            return
        st.dataframe(_table(exchanges), hide_index=True, key=f"{key_prefix}_inspector_table",
                     column_config={"latency_ms": st.column_config.NumberColumn("latency (ms)", format="%.1f")})
        chosen = st.selectbox("Exchange", range(len(exchanges)), index=first_shown(exchanges),
                              key=f"{key_prefix}_inspector_pick",
                              format_func=lambda i: f"{i + 1}: {exchanges[i].method} {exchanges[i].url} -> "
                                                    f"{exchanges[i].status}")
        st.code(exchanges[chosen].text(), language=None, wrap_lines=True)
        if failures:
            st.text(f"Failed requests ({log.failed}, newest {len(failures)} shown):")
            for exchange in failures:
                st.code(f"{exchange.method} {exchange.url} -> {exchange.status}\n"
                        f"{exchange.error or exchange.response_body}", language=None, wrap_lines=True)
