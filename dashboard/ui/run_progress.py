"""Runs in progress, drawn from fragments that poll the RunManager: one run's progress on its page, and every run
in progress on this dashboard, with its link, in the sidebar of every page. A run goes on in its worker thread
whatever the page does; these only watch it (and Cancel asks it to stop, keeping the finished rows). Cancel is
offered to the browser that started the run and to an operator (dashboard.runs.ownership); others read who can."""
from __future__ import annotations

from typing import Sequence

import streamlit as st

from dashboard.plain import escape_markdown
from dashboard.runs.manager import Progress, RunManager
from dashboard.runs.ownership import WHO_MAY_CANCEL, NotAllowed
from dashboard.runs.visitor import VisitorManager
from client.store.database import StoreError
from dashboard.ui import access, state

__all__ = ["cancel", "progress_text", "run_progress", "thumbnails_progress", "thumbnails_slot", "active_runs_sidebar",
           "PAGE_POLL_S", "SIDEBAR_POLL_S", "RUN_PAGES"]

PAGE_POLL_S = 0.5
# Each poll is a script run that takes the interpreter lock and the browser's time from the run; so instead of
# polling faster, a run expected to end before the next poll is waited for (at most this long): its results are
# drawn as soon as it ends.
FINISH_WAIT_S = 0.45
SIDEBAR_POLL_S = 1.0
ACTIVE = ("queued", "running")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def progress_text(progress: Progress) -> str:
    """'120 / 500 images · 35.1 images/s · about 11 s left · 3 errors so far'."""
    parts = [f"{progress.done} / {progress.total} images"]
    if progress.images_per_s:
        parts.append(f"{progress.images_per_s:.1f} images/s")
    if progress.eta_s is not None and progress.status == "running":
        parts.append(f"about {_duration(progress.eta_s)} left")
    parts.append(f"{progress.errors} error{'s' if progress.errors != 1 else ''} so far")
    return " · ".join(parts)


def _queued_text(manager: RunManager) -> str:
    return (f"Queued: waiting for a free worker (this dashboard runs {manager.max_runs} run(s) at once; "
            "SERVESCOPE_MAX_RUNS sets how many).")


@st.fragment(run_every=PAGE_POLL_S)
def run_progress(run_id: str, key_prefix: str, may_cancel: bool = False) -> None:
    """Progress of one run, redrawn every PAGE_POLL_S seconds, with Cancel when this visitor `may_cancel` (else who
    can); reruns the page when it ends."""
    manager = state.run_manager()
    try:
        progress = manager.progress(run_id)
    except (StoreError, LookupError) as exc:
        st.error(escape_markdown(f"The run's progress cannot be read: {exc}"), icon=":material/error:")
        return
    if progress.status == "running" and progress.eta_s is not None and progress.eta_s < PAGE_POLL_S:
        if manager.wait(run_id, FINISH_WAIT_S):
            st.rerun()  # the whole page: the final status and the results replace this fragment
    if progress.status not in ACTIVE:
        st.rerun()  # the whole page: the final status and the results replace this fragment
    if progress.status == "queued":
        st.info(_queued_text(manager), icon=":material/hourglass_top:")
    else:
        st.progress(progress.done / progress.total if progress.total else 1.0, text=progress_text(progress))
    if not may_cancel:
        st.caption(WHO_MAY_CANCEL)
        return
    if st.button("Cancel", key=f"{key_prefix}_cancel", icon=":material/stop:",
                 help="Stop sending images; the results that arrived are kept"):
        cancel(manager, [run_id])


def cancel(manager: RunManager | VisitorManager, run_ids: Sequence[str]) -> None:
    """Ask the runs to stop (checked against this visitor), saying what happened."""
    try:
        stopped = [manager.cancel(run_id) for run_id in run_ids]
    except (NotAllowed, LookupError, StoreError) as exc:
        st.error(escape_markdown(exc), icon=":material/block:")
        return
    if all(stopped):
        st.text("Cancelling: the results that arrived are kept.")
    else:
        st.text("This run is not running in this dashboard process (another replica of the dashboard runs it), so "
                "it can only be cancelled there.")


@st.fragment(run_every=PAGE_POLL_S)
def thumbnails_progress(run_id: str) -> None:
    """'Thumbnails: N of M made…' while a finished run's thumbnails are still being stored (its rows never waited
    for them); reruns the page once they all are, so every table and grid shows them."""
    manager = state.run_manager()
    made = manager.thumbnail_progress(run_id)
    if made is None and not manager.thumbnails_pending(run_id):
        st.rerun()  # the whole page, with every thumbnail
    if made is not None:
        st.caption(f"Thumbnails: {made[0]} of {made[1]} made…")


def thumbnails_slot(run_id: str, pending: bool) -> None:
    """The thumbnails caption while they are `pending`, else an empty container in its place: one slot on the page
    either way, so when the caption goes the elements below keep their places (a shifted page shows its old
    elements beside the new ones, e.g. a metric twice, until the redraw finishes)."""
    if pending:
        thumbnails_progress(run_id)   # a fragment: drawn inside a container of its own
    else:
        st.container()


# Where a run in progress opens, by its kind: the page reads `?run=<id>` (Compare finds the comparison holding it).
RUN_PAGES = {"classify": "app_pages/classify.py", "compare": "app_pages/compare.py"}


def active_runs_sidebar(page: object | None = None) -> None:
    """Every queued and running run of this dashboard (whichever browser started it), each with a link to its page,
    in the sidebar of every page (nothing when there are none). On the Classify page (`page`, from st.navigation)
    the run it shows is left out: its own progress is on the page, and each fragment rerun would take the
    interpreter lock and the browser's time from the run once more a second. Also keeps this browser's identity
    (dashboard.ui.access.sidebar: its cookie, the operator field)."""
    access.sidebar()
    try:
        manager = state.run_manager()
        running = manager.active_run_ids()
        if getattr(page, "url_path", None) == "classify":
            shown = {state.current_run("classify"), st.query_params.get("run")}   # the address names it first
            running = [run_id for run_id in running if run_id not in shown]
        if not running:
            return
        kinds = {run_id: run.kind for run_id in running if (run := manager.store.get_run(run_id)) is not None}
    except StoreError:
        return  # the page says why the store cannot be opened
    active = tuple((run_id, kinds[run_id]) for run_id in running if run_id in kinds)
    if active:
        with st.sidebar:
            _active_runs(active)


@st.fragment(run_every=SIDEBAR_POLL_S)
def _active_runs(runs: tuple[tuple[str, str], ...]) -> None:
    """(run id, kind) of each run to watch: its progress and a link that opens it."""
    manager = state.run_manager()
    st.subheader("Runs in progress")
    still_active = False
    for run_id, kind in runs:
        try:
            progress = manager.progress(run_id)
        except (StoreError, LookupError):
            continue
        still_active |= progress.status in ACTIVE
        if progress.status == "queued":
            st.text(f"Run {run_id}: queued")
        elif progress.status == "running":
            st.progress(progress.done / progress.total if progress.total else 1.0,
                        text=f"Run {run_id}: {progress.done} / {progress.total} images")
        else:
            st.text(f"Run {run_id}: {progress.outcome}")
        st.page_link(RUN_PAGES.get(kind, RUN_PAGES["classify"]), label=f"Open run {run_id}",
                     query_params={"run": run_id}, icon=":material/open_in_new:")
    if not still_active:
        st.rerun()  # every watched run ended: redraw without this fragment
