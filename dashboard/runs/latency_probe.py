"""Compare's cost of switching, measured on its own: a short probe after a comparison's run.

During the run both sides classify at once, so each side's timings include waiting for the other. After it, the
probe sends the same few images to each side one request at a time, never two sides at once, interleaved (A, B,
A, B, …) so that a slow moment of the machine falls on every side alike: PROBE_ROUNDS rounds of PROBE_IMAGES
images, one image per request, after one untimed request per side. The images are the first ones every side
classified without error. The record is plain JSON, kept with the comparison (Store.save_latency_probe). No
streamlit here.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from client import ModelProfile, TFServingClient, TFServingError
from dashboard.runs.side import Job
from client.store.database import RunInfo, Store

__all__ = ["PROBE_ROUNDS", "PROBE_IMAGES", "SideProbe", "LatencyProbe", "ProbeTarget", "probe_positions",
           "measure", "how_measured", "probe_sides"]

PROBE_ROUNDS = 8
PROBE_IMAGES = 4


def how_measured(rounds: int, images: int, sides: int = 2) -> str:
    """The sentence the page shows under the cost table."""
    order = ", ".join("ABCDEFGHIJ"[:max(2, min(sides, 10))]) + ", …"
    return (f"Latency measured on its own after the run: {rounds} rounds of the same {images} image(s), one image "
            f"per request, one side at a time ({order}), after one untimed request per side; images/s is one "
            "image at a time (1,000 / mean latency in ms).")


@dataclass(frozen=True)
class SideProbe:
    run_id: str
    latencies_ms: tuple[float, ...]     # one per answered request, in the order sent
    failures: int = 0                   # requests that got no answer

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.failures

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @property
    def images_per_s(self) -> float:
        """One image at a time: 1000 / the mean latency (ms)."""
        return 1000.0 / float(np.mean(self.latencies_ms)) if self.latencies_ms else float("nan")


@dataclass(frozen=True)
class LatencyProbe:
    rounds: int
    images: tuple[str, ...]             # the sources sent, the same to every side
    sides: tuple[SideProbe, ...]
    error: str | None = None            # why no probe could be made (then `sides` is empty)

    def side(self, run_id: str) -> SideProbe | None:
        return next((side for side in self.sides if side.run_id == run_id), None)

    def how_text(self) -> str:
        if self.error:
            return f"Latency could not be measured on its own: {self.error}"
        return how_measured(self.rounds, len(self.images), len(self.sides))

    def to_json(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "images": list(self.images), "error": self.error,
                "sides": [{"run_id": s.run_id, "latencies_ms": list(s.latencies_ms), "failures": s.failures}
                          for s in self.sides]}

    @classmethod
    def from_json(cls, record: Mapping[str, Any] | None) -> "LatencyProbe | None":
        """The probe a store holds, or None when there is none (or it is not one: nothing is guessed)."""
        if not isinstance(record, Mapping):
            return None
        try:
            sides = tuple(SideProbe(str(s["run_id"]), tuple(float(v) for v in s["latencies_ms"]),
                                    int(s.get("failures", 0))) for s in record.get("sides") or ())
            return cls(int(record["rounds"]), tuple(str(i) for i in record.get("images") or ()), sides,
                       None if record.get("error") is None else str(record["error"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class ProbeTarget:
    run_id: str
    client: TFServingClient
    version: int | None                 # the version that answered the run (None: the label's or latest)
    label: str | None = None


def probe_positions(rows_by_side: Sequence[pd.DataFrame], count: int = PROBE_IMAGES) -> list[int]:
    """The first `count` positions (row index) that every side classified without error."""
    good = None
    for rows in rows_by_side:
        ok = set(rows.index[rows["error"].isna() & rows["top_class"].notna()])
        good = ok if good is None else good & ok
    return sorted(good or ())[:count]


def measure(targets: Sequence[ProbeTarget], images: Sequence[tuple[str, bytes]], *, rounds: int = PROBE_ROUNDS,
            on_request: Callable[[int, int], None] | None = None,
            stop: Callable[[], bool] = lambda: False) -> LatencyProbe:
    """Time every target alone on the same `images`: one untimed request each, then `rounds` rounds in which each
    image goes to each target in turn (A, B, A, B…), one image per request. `on_request(done, total)` follows the
    timed requests; `stop()` ends the probe early (what was timed is kept)."""
    names = tuple(name for name, _ in images)
    latencies: dict[str, list[float]] = {t.run_id: [] for t in targets}
    failures = dict.fromkeys(latencies, 0)

    def send(target: ProbeTarget, name: str, data: bytes) -> float | None:
        try:
            [result] = target.client.classify([(name, data)], version=target.version, label=target.label,
                                              batch_size=1, concurrency=1)
        except TFServingError:
            return None
        return result.latency_ms if result.ok else None

    for target in targets:                       # untimed: no side pays a cold connection
        if images:
            send(target, *images[0])
    total, done = rounds * len(images) * len(targets), 0
    for _ in range(rounds):
        for name, data in images:
            for target in targets:
                if stop():
                    return _probe(rounds, names, targets, latencies, failures)
                latency = send(target, name, data)
                if latency is None:
                    failures[target.run_id] += 1
                else:
                    latencies[target.run_id].append(float(latency))
                done += 1
                if on_request is not None:
                    on_request(done, total)
    return _probe(rounds, names, targets, latencies, failures)


def _probe(rounds: int, names: tuple[str, ...], targets: Sequence[ProbeTarget], latencies: Mapping[str, list],
           failures: Mapping[str, int]) -> LatencyProbe:
    return LatencyProbe(rounds, names, tuple(SideProbe(t.run_id, tuple(latencies[t.run_id]), failures[t.run_id])
                                             for t in targets))


def _client(client_factory: Callable[..., TFServingClient], job: Job, run: RunInfo) -> TFServingClient:
    """A client preparing pixels as the side's run did: with the model profile the run stored, when it stored one."""
    if run.profile is None:
        return client_factory(job.url, job.model)
    return client_factory(job.url, job.model, profile=ModelProfile.from_dict(dict(run.profile.data)))


def probe_sides(store: Store, client_factory: Callable[[str, str], TFServingClient], jobs: Sequence[Job], *,
                on_request: Callable[[int, int], None] | None = None,
                stop: Callable[[], bool] = lambda: False) -> LatencyProbe:
    """The probe of a comparison whose sides (`jobs`, baseline first) have ended: the first PROBE_IMAGES images
    every side classified, read again from the first job's items, sent to the version each side's run resolved
    (its label or the latest when none answered). Raises what the store or an image loader raises."""
    runs = [store.get_run(job.run_id) for job in jobs]
    positions = probe_positions([store.run_rows(job.run_id) for job in jobs])
    if not positions or any(run is None for run in runs):
        return LatencyProbe(PROBE_ROUNDS, (), (), error="no image was classified without error by every side")
    images = [(jobs[0].items[p][0], jobs[0].items[p][1]()) for p in positions]
    with contextlib.ExitStack() as clients:
        targets = [ProbeTarget(job.run_id, clients.enter_context(_client(client_factory, job, run)), run.version,
                               None if run.version is not None else job.label) for job, run in zip(jobs, runs)]
        return measure(targets, images, on_request=on_request, stop=stop)
