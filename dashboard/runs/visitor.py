"""The app's RunManager as one visitor uses it (dashboard.ui.state.run_manager hands this to the pages).

The runs a visitor starts are recorded as their browser's (`started_by`), and cancel, retry_failed and items_of are
checked against the visitor (dashboard.runs.ownership): NotAllowed or ItemsUnavailable says who may. Everything
else (progress, wait, thumbnails...) is the manager's own, shared by every visitor.
"""
from __future__ import annotations

from typing import Any

from client.sources import Item
from dashboard.runs.manager import RunManager
from dashboard.runs.ownership import Actor
from client.store.database import Comparison

__all__ = ["VisitorManager"]


class VisitorManager:
    def __init__(self, manager: RunManager, actor: Actor) -> None:
        self.manager, self.actor = manager, actor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.manager, name)

    def submit_classify(self, *args: Any, **kwargs: Any) -> str:
        return self.manager.submit_classify(*args, started_by=self.actor.browser, **kwargs)

    def submit_compare(self, *args: Any, **kwargs: Any) -> Comparison:
        return self.manager.submit_compare(*args, started_by=self.actor.browser, **kwargs)

    def cancel(self, run_id: str) -> bool:
        return self.manager.cancel(run_id, by=self.actor)

    def retry_failed(self, run_id: str) -> int:
        return self.manager.retry_failed(run_id, by=self.actor)

    def items_of(self, run_id: str) -> list[Item]:
        return self.manager.items_of(run_id, by=self.actor)
