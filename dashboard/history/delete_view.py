"""History's delete and clear, checked against the visitor (dashboard.runs.ownership): the browser that started a
run, or an operator, may delete it once it has ended; nobody may delete a queued or running run (the store refuses
it too); only an operator may clear every run. What the last delete or clear did is left in
`<key_prefix>_message` for the page to say on its next run."""
from __future__ import annotations

from typing import Callable, Sequence

import streamlit as st

from dashboard.plain import bullet_list, escape_markdown
from dashboard.runs.keeping import forget_unused_images
from dashboard.runs.ownership import NOBODYS_RUN, WHO_MAY_DELETE, Actor, NotAllowed
from client.store.database import RunSummary, Store, StoreError
from client.store.records import RunActiveError, RunInfo

__all__ = ["delete_section", "delete_selected", "clear_all", "why_not_deletable", "pick_runs", "describe_run"]

OPERATOR_ONLY = ("Only an operator can clear every stored run (the sidebar's Operator field, offered when "
                 "SERVESCOPE_OPERATOR_TOKEN is set).")


def why_not_deletable(run: RunInfo, visitor: Actor) -> str | None:
    """Why `visitor` may not delete `run` now; None when they may."""
    if not run.finished:
        return f"run {run.id} is {run.status}: nobody can delete a queued or running run"
    if not visitor.may_act(run):
        whose = NOBODYS_RUN if run.started_by is None else "another browser started it"
        return f"run {run.id} can only be deleted by the browser that started it, or an operator ({whose})"
    return None


def describe_run(summary: RunSummary) -> str:
    """One run as a widget option: started, id, kind, model, target and the version that answered."""
    run = summary.run
    return (f"{run.created_at:%Y-%m-%d %H:%M:%S} · {run.id} · {run.kind} · {run.model} · {run.target}"
            + (f" → version {run.version}" if run.version is not None else ""))


def pick_runs(label: str, shown: Sequence[RunSummary], everything: Sequence[RunSummary], key: str,
              describe: Callable[[RunSummary], str] = describe_run, *, select_all: bool = False) -> list[RunSummary]:
    """A multiselect of runs (options: the shown runs, plus chosen ones filtered out since); runs deleted elsewhere
    leave the selection before the widget is drawn."""
    by_id = {s.run.id: s for s in everything}
    kept = [run_id for run_id in st.session_state.get(key, []) if run_id in by_id]
    st.session_state[key] = kept
    options = list(dict.fromkeys([*(s.run.id for s in shown), *kept]))
    picked = st.multiselect(label, options, key=key, format_func=lambda run_id: describe(by_id[run_id]),
                            **({} if select_all else {"select_all": False}))
    return [by_id[run_id] for run_id in picked]


def delete_section(store: Store, shown: Sequence[RunSummary], everything: Sequence[RunSummary], key_prefix: str,
                   visitor: Actor) -> None:
    """Delete, apart from opening and exporting: its own selection of runs (no "select all"; a comparison's
    sides are listed as their runs, and deleting one side deletes the comparison), then delete_selected."""
    st.subheader("Delete")
    chosen = pick_runs("Runs to delete (each picked by hand)", shown, everything,
                       f"{key_prefix}_delete_selected")
    if chosen:
        delete_selected(store, chosen, key_prefix, visitor)


def delete_selected(store: Store, chosen: Sequence[RunSummary], key_prefix: str, visitor: Actor) -> None:
    """The delete button for the chosen runs this visitor may delete, with a confirmation; the others are listed
    with the reason."""
    refused = [reason for s in chosen if (reason := why_not_deletable(s.run, visitor))]
    run_ids = [s.run.id for s in chosen if why_not_deletable(s.run, visitor) is None]
    if refused:
        st.caption(escape_markdown(WHO_MAY_DELETE))
        st.markdown(bullet_list(f"Not deletable: {reason}" for reason in refused))
    if not run_ids:
        return
    confirm = f"{key_prefix}_confirm_delete"
    if st.session_state.get(confirm) != run_ids:
        st.button(f"Delete {len(run_ids)} selected run(s)…", key=f"{key_prefix}_delete",
                  on_click=lambda: st.session_state.update({confirm: run_ids}))
        return
    st.warning(f"Delete {len(run_ids)} run(s) and their rows? This cannot be undone.", icon=":material/warning:")
    yes, no = st.columns(2)
    yes.button("Yes, delete them", key=f"{key_prefix}_delete_yes", type="primary",
               on_click=_delete, args=(store, run_ids, key_prefix, visitor))
    no.button("Keep them", key=f"{key_prefix}_delete_no", on_click=lambda: st.session_state.pop(confirm, None))


def _delete(store: Store, run_ids: Sequence[str], key_prefix: str, visitor: Actor) -> None:
    """Checked again when pressed: the run may have been reopened, or the page be older than the store."""
    st.session_state.pop(f"{key_prefix}_confirm_delete", None)
    deleted, refused = 0, []
    try:
        for run_id in run_ids:
            run = store.get_run(run_id)
            if run is None:
                continue
            try:
                visitor.check_act(run, "delete")
                deleted += store.delete_run(run_id)
            except (NotAllowed, RunActiveError) as exc:
                refused.append(str(exc))
    except StoreError as exc:
        st.session_state[f"{key_prefix}_message"] = f"Deleting failed: {str(exc).replace(store.url, 'the run store')}"
        return
    if deleted:
        forget_unused_images(store)   # the images only these runs kept
    st.session_state[f"{key_prefix}_delete_selected"] = []
    st.session_state[f"{key_prefix}_message"] = " ".join([f"Deleted {deleted} run(s).",
                                                          *(f"Not deleted: {reason}." for reason in refused)])


def clear_all(store: Store, count: int, key_prefix: str, visitor: Actor) -> None:
    """Clear History (every finished run; queued and running runs stay): an operator's, with a confirmation."""
    st.subheader("Clear")
    if not visitor.operator:
        st.caption(OPERATOR_ONLY)
        return
    confirm = f"{key_prefix}_confirm_clear"
    if not st.session_state.get(confirm):
        st.button(f"Clear all {count} stored run(s)…", key=f"{key_prefix}_clear",
                  on_click=lambda: st.session_state.update({confirm: True}))
        return
    st.warning(f"Delete every one of the {count} stored run(s), their rows and comparisons? Server observations "
               "stay, and so do queued and running runs. This cannot be undone.", icon=":material/warning:")
    yes, no = st.columns(2)
    yes.button("Yes, clear everything", key=f"{key_prefix}_clear_yes", type="primary",
               on_click=_clear, args=(store, key_prefix))
    no.button("Cancel", key=f"{key_prefix}_clear_no", on_click=lambda: st.session_state.pop(confirm, None))


def _clear(store: Store, key_prefix: str) -> None:
    st.session_state.pop(f"{key_prefix}_confirm_clear", None)
    try:
        deleted = store.clear_all()
        kept = len(store.list_runs())
        forget_unused_images(store)
    except StoreError as exc:
        st.session_state[f"{key_prefix}_message"] = f"Clearing failed: {str(exc).replace(store.url, 'the run store')}"
        return
    st.session_state[f"{key_prefix}_delete_selected"] = []
    st.session_state[f"{key_prefix}_export_selected"] = []
    st.session_state[f"{key_prefix}_message"] = f"Cleared {deleted} run(s)." + (
        f" {kept} run(s) still queued or running (or in a running comparison) were kept: nobody can delete those."
        if kept > 0 else "")
