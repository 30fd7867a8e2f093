"""Who may act on a run: the browser that started it, or an operator. No Streamlit here (dashboard.ui.access
finds out who the visitor is).

A browser is known by a random token it keeps in a cookie (dashboard.ui.access); the store keeps only the token's
SHA-256 digest with each run it starts (`RunInfo.started_by`). An operator is a visitor who typed the operator token
(config.operator_token, SERVESCOPE_OPERATOR_TOKEN) in the sidebar. History and the stored results are shared by
every visitor; these belong to the starting browser (and are open to an operator):

- cancelling the run, deleting it, retrying its failed rows;
- its uploads (held in this process's memory for a while: "Compare these images with other versions…");
- its request inspector (the exchanges with the model server).

A run no browser started (`started_by` None: made by a script, a test or an app older than ownership) has no
owner: only an operator may cancel or delete it, and its uploads and exchanges, held only when a script of this
process made it, are nobody's to protect. Nobody may delete a queued or running run (the store refuses it too).

Datasets follow the same rule for deletion only: the browser that created one (`DatasetSummary.created_by`, kept by
every later version), or an operator, may delete it; a dataset no browser created (the CLI's, a script's, one older
than dataset ownership) only an operator. Reading, running, exporting and adding versions or corrections stay open
to every visitor (nothing is lost by them).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from client.store.dataset_records import DatasetSummary, DatasetVersion
from client.store.records import RunInfo

__all__ = ["Actor", "NotAllowed", "ownership_note", "token_digest", "new_browser_token", "is_browser_token",
           "is_operator_token", "WHO_MAY_CANCEL", "WHO_MAY_DELETE", "WHO_MAY_DELETE_DATASET", "WHAT_IS_SHARED",
           "NOBODYS_RUN"]

WHO_MAY_CANCEL = "Only the browser that started this run, or an operator, can cancel it."
WHO_MAY_DELETE = "Only the browser that started a run, or an operator, can delete it; nobody can delete a queued or " \
                 "running run."
WHO_MAY_DELETE_DATASET = "Only the browser that created a dataset, or an operator, can delete it."
WHAT_IS_SHARED = ("History is shared: every visitor sees every stored run and its results. A run's uploaded images "
                  "and its request inspector stay with the browser that started it (and an operator).")
NOBODYS_RUN = "no browser started this run (a script did, or an app older than run ownership)"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")


class NotAllowed(PermissionError):
    """This visitor may not do that to this run; the message says who may."""


def new_browser_token() -> str:
    """A random token for one browser (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def is_browser_token(text: object) -> bool:
    """True for a token new_browser_token could have made (a cookie holding anything else is ignored)."""
    return isinstance(text, str) and _TOKEN.fullmatch(text) is not None


def token_digest(token: str) -> str:
    """The SHA-256 hex digest stored with a run in place of the browser's token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_operator_token(typed: str, configured: str | None) -> bool:
    """Whether `typed` is the operator token (compared in constant time); False when none is configured."""
    if not configured or not typed:
        return False
    return hmac.compare_digest(token_digest(typed.strip()), token_digest(configured))


@dataclass(frozen=True)
class Actor:
    """One visitor: the digest of their browser's token (None when unknown) and whether they are an operator."""
    browser: str | None
    operator: bool = False

    def started(self, run: RunInfo) -> bool:
        return self.browser is not None and run.started_by == self.browser

    def may_act(self, run: RunInfo) -> bool:
        """Cancel, delete or retry `run`."""
        return self.operator or self.started(run)

    def may_see_private(self, run: RunInfo) -> bool:
        """See the run's exchanges and reuse its uploads."""
        return self.operator or run.started_by is None or self.started(run)

    def may_delete_dataset(self, dataset: DatasetSummary | DatasetVersion) -> bool:
        """Delete `dataset`: an operator, or the browser that created it (never when either is unknown)."""
        return self.operator or (self.browser is not None and dataset.created_by == self.browser)

    def check_act(self, run: RunInfo, what: str) -> None:
        """NotAllowed (saying who may) unless this visitor may `what` ("cancel", "delete", "retry") the run."""
        if not self.may_act(run):
            who = NOBODYS_RUN if run.started_by is None else "another browser started it"
            raise NotAllowed(f"run {run.id} cannot be {_past(what)} from this browser ({who}): only the browser "
                             "that started it, or an operator, can do that")


def _past(verb: str) -> str:
    return {"cancel": "cancelled", "delete": "deleted", "retry": "retried"}.get(verb, verb)


def ownership_note(actor: Actor, run: RunInfo) -> str | None:
    """What a visitor who did not start `run` can and cannot do with it; None for its own browser."""
    if actor.started(run):
        return None
    whose = NOBODYS_RUN if run.started_by is None else "another browser started this run"
    role = (" You act as an operator: you can cancel, retry or delete it." if actor.operator
            else " Only the browser that started it, or an operator, can cancel, retry or delete it.")
    return f"Shared view ({whose}). {WHAT_IS_SHARED}{role}"
