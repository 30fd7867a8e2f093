"""The skew finder's page, bottom half: one finding (dashboard.skew.finder.Finding) drawn. The best preparation and
the accuracy this session's profile gets, what it cost, the ranking, the preparations the model cannot take, Apply
(the session's profile for the model: dashboard.ui.state.set_session_profile) and the profile file, and Compare's
full verdict between any two preparations, on the page or as a stored comparison. Streamlit-facing.
"""
from __future__ import annotations

import json
from typing import Callable, Sequence

import pandas as pd
import streamlit as st

from client import ModelProfile
from client.sources import Item
from client.store.database import StoreError
from dashboard.compare.decision_view import render_decision
from dashboard.plain import escape_markdown
from dashboard.skew.finder import Finding, Tried
from dashboard.skew.ranking import Ranked
from dashboard.targets import Target
from dashboard.ui import state, widgets

__all__ = ["HEURISTIC", "profile_file", "ranking_table", "render_finding", "session_entry", "stored_comparison"]

HEURISTIC = ("No ground truth: the preparations are ranked by mean top-class confidence, then entropy. This is a "
             "heuristic: a wrong preparation can make a model more confident, not less. Label the images (folder "
             "or file names, or a truth file) for a ranking by accuracy.")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _accuracy_text(item: Ranked[Tried]) -> str:
    a = item.score.accuracy
    if a is None:
        return f"mean confidence {_percent(item.score.confidence)}"
    return (f"accuracy {a.estimate:.1%} ({a.low:.1%} to {a.high:.1%}, 95% Wilson) on "
            f"{item.score.labelled} labelled image{'s' if item.score.labelled != 1 else ''}")


def profile_file(profile: ModelProfile) -> bytes:
    """The profile as a file that stands alone (class names inlined), for `--profile` or a profile folder."""
    return (json.dumps(profile.to_dict(inline_class_names=True), indent=2, ensure_ascii=False) + "\n").encode()


def session_entry(finding: Finding, model: str) -> tuple[Ranked[Tried] | None, str]:
    """The ranked preparation this session classifies `model` with now (its profile, else the default the finder
    marked current), and how to name it; None when the finder did not try it."""
    session = state.session_profile(model)
    if session is not None:
        return finding.find(session), "this session's profile"
    return finding.current, "the default preparation (assumed now)"


def ranking_table(finding: Finding, now: Tried | None = None) -> pd.DataFrame:
    """One row per preparation classified, best first: what the page's table shows; `now` is marked as the
    session's."""
    rows = []
    for number, item in enumerate(finding.ranked, 1):
        tried, score = item.entry, item.score
        row = {"rank": number, "preparation": tried.names, "now": "◀ this session" if tried is now else "",
               "sent": tried.preparation, "errors": score.errors}
        if finding.with_truth:
            a = score.accuracy
            row.update(accuracy=a.estimate if a else None, low=a.low if a else None, high=a.high if a else None,
                       log_loss=score.log_loss, p_vs_best=item.p_vs_best,
                       within_noise="yes" if item.close_to_best else "no")
        else:
            row.update(confidence=score.confidence, entropy=score.entropy)
        rows.append(row)
    return pd.DataFrame(rows)


_COLUMNS = {
    "rank": st.column_config.NumberColumn("#", width="small"),
    "preparation": st.column_config.TextColumn("preparation", width="medium"),
    "now": st.column_config.TextColumn(""),
    "sent": st.column_config.TextColumn("what is sent", width="large"),
    "accuracy": st.column_config.ProgressColumn("accuracy", min_value=0.0, max_value=1.0, format="percent"),
    "low": st.column_config.NumberColumn("95% low", format="percent"),
    "high": st.column_config.NumberColumn("95% high", format="percent"),
    "log_loss": st.column_config.NumberColumn("log loss", format="%.3f",
                                              help="Mean −ln p(true class): lower is better"),
    "p_vs_best": st.column_config.NumberColumn("McNemar p vs #1", format="%.3g"),
    "within_noise": st.column_config.TextColumn("within noise of the best",
                                                help="Not significantly less accurate than the most accurate "
                                                     "(McNemar's exact test, p ≥ 0.05)"),
    "confidence": st.column_config.ProgressColumn("mean confidence", min_value=0.0, max_value=1.0,
                                                  format="percent"),
    "entropy": st.column_config.NumberColumn("mean entropy", format="%.3f", help="0 certain .. 1 uniform"),
    "errors": st.column_config.NumberColumn("errors"),
}


def _headline(finding: Finding, model: str) -> None:
    best = finding.ranked[0]
    st.success(escape_markdown(f"Best fit: {best.entry.names}: {_accuracy_text(best)}.", limit=None),
               icon=":material/check_circle:")
    if not finding.with_truth:
        st.warning(HEURISTIC, icon=":material/help:")
    else:
        close = [r for r in finding.ranked[1:] if r.close_to_best]
        if close:
            st.caption(escape_markdown(
                f"{len(close)} other preparation(s) are not significantly less accurate on these images "
                f"(McNemar p ≥ 0.05): {', '.join(r.entry.names for r in close[:6])}"
                f"{'…' if len(close) > 6 else ''}. Among those, presets (the conventions models are exported "
                "with) rank before grid combinations; label more images to tell them apart.", limit=None))
    left, right = st.columns(2)
    mine, label = session_entry(finding, model)
    if mine is None:
        left.metric(f"Accuracy with {label}" if finding.with_truth else f"Confidence with {label}", "not tried",
                    help="Run the finder again to rank it")
    elif finding.with_truth:
        left.metric(f"Accuracy with {label}", _percent(mine.score.accuracy.estimate if mine.score.accuracy
                                                         else None), help=mine.entry.names)
    else:
        left.metric(f"Confidence with {label}", _percent(mine.score.confidence), help=mine.entry.names)
    value = best.score.accuracy.estimate if best.score.accuracy else best.score.confidence
    right.metric("Best preparation" + (" (accuracy)" if finding.with_truth else " (confidence)"), _percent(value),
                 help=best.entry.names)


def _cost(finding: Finding) -> None:
    merged = sum(len(r.entry.same_as) for r in finding.ranked)
    st.caption(escape_markdown(
        f"Cost: {len(finding.ranked)} preparation(s) classified ({merged} more send the same pixels, "
        f"{len(finding.refused)} refused) × {len(finding.sample)} image(s) = {finding.images_sent:,} images in "
        f"{finding.requests:,} requests, {finding.seconds:.1f} s; version {finding.version}.", limit=None))


def _refused(finding: Finding) -> None:
    if finding.refused:
        with st.expander(f"{len(finding.refused)} preparation(s) this model cannot take"):
            st.dataframe(pd.DataFrame([{"preparation": r.candidate.name, "why": r.reason}
                                       for r in finding.refused]), hide_index=True,
                         column_config={"why": st.column_config.TextColumn("why", width="large")})


def _apply(finding: Finding, model: str, key_prefix: str) -> None:
    names = [r.entry.names for r in finding.ranked]
    left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    chosen = left.selectbox("Preparation", range(len(names)), format_func=lambda i: f"{i + 1}. {names[i]}",
                            key=f"{key_prefix}_apply_choice")
    profile = finding.ranked[chosen].entry.candidate.profile
    if middle.button("Apply to this session", key=f"{key_prefix}_apply", type="primary",
                     help=f"Classify and Compare {model} with this profile in this session: the profile "
                          "editor's session profile (Models page)"):
        state.set_session_profile(model, profile)
        st.rerun()
    right.download_button("Download profile", profile_file(profile), f"{model}.json", "application/json",
                          key=f"{key_prefix}_download")
    session = state.session_profile(model)
    if session is not None:
        st.caption(escape_markdown(f"This session classifies {model} with profile {session.digest[:15]}… "
                                   f"({session.preset_name}).", limit=None))


def _verdict(finding: Finding, key_prefix: str, on_compare: Callable[[Tried, Tried], None] | None) -> None:
    names = [r.entry.names for r in finding.ranked]
    if len(names) < 2:
        return
    current = next((i for i, r in enumerate(finding.ranked) if r.entry.current), 1 if len(names) > 1 else 0)
    left, right = st.columns(2)
    a = left.selectbox("A", range(len(names)), index=current if current != 0 else 1,
                       format_func=lambda i: f"{i + 1}. {names[i]}", key=f"{key_prefix}_verdict_a")
    b = right.selectbox("B", range(len(names)), index=0, format_func=lambda i: f"{i + 1}. {names[i]}",
                        key=f"{key_prefix}_verdict_b")
    if a == b:
        st.info("Choose two different preparations.")
        return
    tried_a, tried_b = finding.ranked[a].entry, finding.ranked[b].entry
    render_decision(finding.verdict(tried_a, tried_b), key_prefix=f"{key_prefix}_verdict")
    if on_compare is not None and st.button("Run these two as a stored comparison", key=f"{key_prefix}_store",
                                            help="Classifies the uploaded images again under both, in the "
                                                 "background, and opens the result on the Compare page"):
        on_compare(tried_a, tried_b)


def render_finding(finding: Finding, *, model: str, key_prefix: str = "skew",
                   on_compare: Callable[[Tried, Tried], None] | None = None) -> None:
    if finding.encoded_input:
        st.info(escape_markdown(f"{model} takes encoded images (DT_STRING) and prepares them itself: there is no "
                                "preparation to find. A profile can still name its output and class names."))
        return
    if not finding.ranked:
        widgets.show_error("The model took none of the preparations; the reasons are listed below.")
        _refused(finding)
        return
    _headline(finding, model)
    _cost(finding)
    mine, _ = session_entry(finding, model)
    table = ranking_table(finding, mine.entry if mine is not None else None)
    st.dataframe(table, hide_index=True, column_config=_COLUMNS, key=f"{key_prefix}_ranking")
    _refused(finding)
    st.subheader("Use it")
    _apply(finding, model, key_prefix)
    st.subheader("Two preparations compared")
    _verdict(finding, key_prefix, on_compare)


def stored_comparison(connection: state.Connection, items: Sequence[Item], finding: Finding, truth: dict,
                      summary: str | None) -> Callable[[Tried, Tried], None]:
    """The callback that runs two preparations as a stored comparison (Compare's background runs) and opens it."""
    def start(a: Tried, b: Tried) -> None:
        if not items:
            widgets.show_error("Upload the images again to run a stored comparison.")
            return
        where = Target(version=finding.version) if finding.version is not None else finding.target.where
        try:
            comparison = state.run_manager().submit_compare(
                connection.url, connection.model, items,
                [where.with_profile(a.candidate.profile), where.with_profile(b.candidate.profile)],
                session_id=state.session_id(), truth=truth, truth_summary=summary, probe_labels=connection.labels)
        except StoreError:
            widgets.show_error("The comparison could not be stored: the run store failed; the dashboard's log "
                               "says why.")
            return
        state.show_comparison(comparison.id)
        st.switch_page("app_pages/compare.py")
    return start
