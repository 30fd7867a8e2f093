"""Stand-in for tqdm when it is not installed: same calls, no output."""
from __future__ import annotations


class NoProgress:
    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __enter__(self) -> "NoProgress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def update(self, count: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: object) -> None:
        pass
