"""The request inspector's expander: a run's exchanges with the model server (REST requests, gRPC calls), as plain
text (st.code / st.text / st.dataframe: a server's body or error text never renders as Markdown)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.runs.inspector import BODY_CHARS, EXCHANGES_KEPT, RequestLog

__all__ = ["render_inspector", "first_shown", "caption", "PRIVATE"]

PRIVATE = ("A run's requests to the model server are shown only to the browser that started it, or an operator; "
           "its stored results above are shared.")


def _table(exchanges) -> pd.DataFrame:
    return pd.DataFrame({
        "time": [e.at.strftime("%H:%M:%S.%f")[:-3] for e in exchanges],
        "method": [e.method for e in exchanges], "url": [e.url for e in exchanges],
        "status": [e.status_text for e in exchanges], "latency_ms": [round(e.latency_ms, 1) for e in exchanges],
        "sent_bytes": [e.request_bytes for e in exchanges],
        "answer_bytes": pd.array([e.response_bytes for e in exchanges], dtype="Int64"),
        "error": [e.error or "" for e in exchanges]})


def first_shown(exchanges) -> int:
    """The exchange the inspector opens on: the newest predict call (the run's own work), else the newest."""
    predicts = [i for i, exchange in enumerate(exchanges)
                if exchange.url.rstrip("/").endswith((":predict", "PredictionService/Predict"))]
    return predicts[-1] if predicts else len(exchanges) - 1


def caption(log: RequestLog, exchanges) -> str:
    """What the inspector holds, and what it leaves out, for this run's transport."""
    if any(exchange.grpc_code is not None for exchange in exchanges):
        return (f"{log.total} gRPC call(s), {log.failed} with a status other than OK; the newest {EXCHANGES_KEPT} "
                "of each are kept. Each call shows its method, status code, sizes and time; the protobuf messages "
                "themselves (raw tensors) are not shown.")
    return (f"{log.total} request(s) answered, {log.failed} with an error status; the newest {EXCHANGES_KEPT} of "
            f"each are kept, base64 strings shortened, bodies cut to {BODY_CHARS} characters. Requests that got no "
            "answer at all are the run's error rows.")


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
        st.caption(caption(log, exchanges))
        if not exchanges:
            return
        st.dataframe(_table(exchanges), hide_index=True, key=f"{key_prefix}_inspector_table",
                     column_config={"latency_ms": st.column_config.NumberColumn("latency (ms)", format="%.1f"),
                                    "sent_bytes": st.column_config.NumberColumn("sent (bytes)", format="%d"),
                                    "answer_bytes": st.column_config.NumberColumn("answer (bytes)", format="%d")})
        chosen = st.selectbox("Exchange", range(len(exchanges)), index=first_shown(exchanges),
                              key=f"{key_prefix}_inspector_pick",
                              format_func=lambda i: f"{i + 1}: {exchanges[i].method} {exchanges[i].url} -> "
                                                    f"{exchanges[i].status_text}")
        st.code(exchanges[chosen].text(), language=None, wrap_lines=True)
        if failures:
            st.text(f"Failed requests ({log.failed}, newest {len(failures)} shown):")
            for exchange in failures:
                st.code(f"{exchange.method} {exchange.url} -> {exchange.status_text}\n"
                        f"{exchange.error or exchange.response_body}", language=None, wrap_lines=True)
