""""Which preparation fits this model?": classify a sample of images under each candidate preparation
(dashboard.skew.candidates) and rank them (dashboard.skew.ranking). Pure: no streamlit; it talks to the model
server through the client, one TFServingClient with `profile=` per preparation.

Each candidate is first planned against the target's signature (client.plan.ClassifyPlan): one the model cannot
take (an integer input and a scale other than 0..255, BGR for a grey input, no size for an input of any size...)
is refused with the client's reason, before anything is sent. Candidates that prepare pixels identically for
this input (on a uint8 input every preset sends the same 0..255 values) are classified once and listed together.
A model whose input is DT_STRING decodes and prepares images itself: there is nothing to find.
"""
from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import pandas as pd

from client import InvalidArgumentError, SignatureError, TFServingClient, TFServingError, schema
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, ImageInput, named_loader
from client.plan import ClassifyPlan
from client.profile import ModelProfile
from client.store.records import RunProfile
from client.sources import Item
from dashboard.compare.decision import Decision, Side, decide
from dashboard.config import PREDICT_TIMEOUT_S
from dashboard.server.connection import configured_signature
from dashboard.skew.candidates import Candidate, candidates as all_candidates
from dashboard.skew.ranking import Ranked, Score, Truth, rank, score_rows, truth_class
from dashboard.targets import LATEST, Target

__all__ = ["DEFAULT_SAMPLE", "Finding", "ProfileClientFactory", "Refused", "Tried", "choose_sample",
           "find_preparation", "profile_client"]

DEFAULT_SAMPLE = 100
ProfileClientFactory = Callable[[str, str, ModelProfile | None], TFServingClient]
Progress = Callable[[int, int, str], None]   # (images classified, images to classify, preparation name)


def profile_client(url: str, model: str, profile: ModelProfile | None) -> TFServingClient:
    """A client for one preparation: the predict timeout, two retries, the operator's signature if set."""
    return TFServingClient(url, model, timeout=PREDICT_TIMEOUT_S, retries=2, signature=configured_signature(),
                           profile=profile)


@dataclass(frozen=True)
class Tried:
    """A preparation classified: the candidate, what was sent (one plain line), the rows (client.schema), its
    score, and the other candidates that prepare pixels identically for this input."""

    candidate: Candidate
    preparation: str
    rows: pd.DataFrame = field(repr=False)
    score: Score
    same_as: tuple[Candidate, ...] = ()

    @property
    def run_profile(self) -> RunProfile:
        """Its profile as a stored run would record it (client.store.records.RunProfile), for Compare's decision."""
        profile = self.candidate.profile
        return RunProfile(data=profile.to_dict(inline_class_names=True), digest=profile.digest,
                          origin=f"skew finder: {self.candidate.name}", preparation=self.preparation)

    @property
    def current(self) -> bool:
        return self.candidate.current or any(c.current for c in self.same_as)

    @property
    def names(self) -> str:
        """The candidate's name, with those it stands for: "unit (= [0, 1] · stretch · RGB)"."""
        if not self.same_as:
            return self.candidate.name
        return f"{self.candidate.name} (= {', '.join(c.name for c in self.same_as)})"


@dataclass(frozen=True)
class Refused:
    """A candidate the model cannot take, and why (the client's InvalidArgumentError or SignatureError text)."""

    candidate: Candidate
    reason: str


@dataclass(frozen=True)
class Finding:
    """The ranked preparations (best first), the refused ones, and what it cost."""

    model: str
    target: Target
    version: int | None
    ranked: tuple[Ranked[Tried], ...]
    refused: tuple[Refused, ...]
    sample: tuple[str, ...]          # the images classified, by name
    labelled: int                    # of them, with ground truth
    requests: int                    # HTTP requests (REST), or predict batches (gRPC)
    images_sent: int
    seconds: float
    encoded_input: bool = False      # DT_STRING: the model prepares images itself

    @property
    def with_truth(self) -> bool:
        return self.labelled > 0

    @property
    def best(self) -> Tried | None:
        return self.ranked[0].entry if self.ranked else None

    @property
    def current(self) -> Ranked[Tried] | None:
        """The preparation the session uses now, as ranked (None when the model cannot take it)."""
        return next((r for r in self.ranked if r.entry.current), None)

    def find(self, profile: ModelProfile) -> Ranked[Tried] | None:
        """The entry that classified with `profile` (by digest, its own or one it stands for)."""
        for item in self.ranked:
            tried = item.entry
            if profile in (tried.candidate.profile, *(c.profile for c in tried.same_as)):
                return item
        return None

    def verdict(self, a: Tried, b: Tried, **options) -> Decision:
        """Compare's full decision of preparation `b` against `a` on the same images (McNemar, flips, the
        images that changed): dashboard.compare.decision.decide."""
        return decide(Side(a.rows, name=a.candidate.name, profile=a.run_profile),
                      Side(b.rows, name=b.candidate.name, profile=b.run_profile), **options)


def choose_sample(items: Sequence[Item], truth: Truth | None, size: int = DEFAULT_SAMPLE,
                  seed: int = 0) -> list[Item]:
    """At most `size` items, in their given order: drawn (seeded) from the labelled ones when any are, else
    from all."""
    if size < 1:
        raise ValueError(f"the sample must hold at least one image, not {size}")
    pool = [item for item in items if truth and item[0] in truth] or list(items)
    if len(pool) <= size:
        return pool
    chosen = sorted(random.Random(seed).sample(range(len(pool)), size))
    return [pool[index] for index in chosen]


def _read_once(items: Sequence[Item]) -> list[Item]:
    """(name, loader) items whose loader reads the image once (every preparation sends the same images); a loader
    that fails fails again each time, as it would have."""
    def once(loader):
        kept: list[bytes] = []
        lock = threading.Lock()

        def load() -> bytes:
            with lock:
                if not kept:
                    kept.append(loader())
                return kept[0]
        return load
    return [(name, once(loader)) for name, loader in items]


def _recipe_key(plan: ClassifyPlan):
    return None if plan.recipe is None else replace(plan.recipe, preset_values_dropped=False)


class _Counter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def hook(self, response, *args, **kwargs):
        with self._lock:
            self.count += 1
        return response


def find_preparation(url: str, model: str, items: Sequence[ImageInput], *, target: Target = LATEST,
                     base: ModelProfile | None = None, truth: Truth | None = None,
                     sample_size: int = DEFAULT_SAMPLE, seed: int = 0,
                     tries: Sequence[Candidate] | None = None,
                     client_factory: ProfileClientFactory = profile_client, batch_size: int = DEFAULT_BATCH_SIZE,
                     concurrency: int = DEFAULT_CONCURRENCY, alpha: float = 0.05,
                     on_progress: Progress | None = None) -> Finding:
    """Classify a sample of `items` (any input the client takes: paths, (name, bytes), (name, loader)...) under
    each candidate (`tries`, default candidates(base)) on `target`'s version and rank them. `truth`: source ->
    true class (or a set of right classes). Raises the client's TFServingError when the target or its signature
    cannot be read; a candidate that fails is refused, the others go on."""
    started = time.monotonic()
    sample = choose_sample([named_loader(item, i) for i, item in enumerate(items)], truth, sample_size, seed)
    names = tuple(name for name, _ in sample)
    labelled = sum(1 for name in names if truth and name in truth)
    tries = list(tries) if tries is not None else all_candidates(base)
    counter = _Counter()
    with client_factory(url, model, base) as client:
        if client.session is not None:
            client.session.hooks.setdefault("response", []).append(counter.hook)
        version = client.resolve_version(**target.kwargs)
        signature = client.metadata(version=version).signature(base.signature_name if base else None)
    refused: list[Refused] = []
    groups: dict[object, list[tuple[Candidate, ClassifyPlan]]] = {}
    for candidate in tries:
        try:
            plan = ClassifyPlan.from_signature(signature, profile=candidate.profile)
        except (InvalidArgumentError, SignatureError) as exc:
            refused.append(Refused(candidate, str(exc)))
            continue
        groups.setdefault(_recipe_key(plan), []).append((candidate, plan))
    common = dict(model=model, version=version, labelled=labelled, sample=names, refused=tuple(refused),
                  target=target)
    if None in groups:   # encoded images: the model prepares them itself
        return Finding(ranked=(), requests=counter.count, images_sent=0, seconds=time.monotonic() - started,
                       encoded_input=True, **common)
    sample = _read_once(sample)
    tried: list[Tried] = []
    batches = sent = 0
    total = len(groups) * len(sample)
    for number, members in enumerate(groups.values()):
        (candidate, plan), others = members[0], [c for c, _ in members[1:]]
        def progress(_result, done: int, before: int = number * len(sample), name: str = candidate.name) -> None:
            if on_progress is not None:
                on_progress(before + done, total, name)
        progress(None, 0)
        try:
            rows = _classify(client_factory, url, model, candidate.profile, version, target, sample, truth,
                             batch_size, concurrency, counter, progress)
        except (TFServingError, InvalidArgumentError) as exc:   # only before any result: the whole candidate
            refused.append(Refused(candidate, str(exc)))
            continue
        batches += math.ceil(len(sample) / batch_size)
        sent += len(rows)
        if rows["error"].notna().all():   # the server refused every image: the model cannot take it
            refused.append(Refused(candidate, f"every image failed, e.g. {rows['error'].iloc[0]}"))
            continue
        tried.append(Tried(candidate, plan.preparation, rows, score_rows(rows, truth), tuple(others)))
    if on_progress is not None:
        on_progress(total, total, "")
    ranked = rank(tried, lambda t: t.score, lambda t: t.candidate.named or any(c.named for c in t.same_as),
                  alpha=alpha)
    common["refused"] = tuple(refused)
    return Finding(ranked=tuple(ranked), requests=counter.count or batches, images_sent=sent,
                   seconds=time.monotonic() - started, **common)


def _classify(client_factory: ProfileClientFactory, url: str, model: str, profile: ModelProfile,
              version: int | None, target: Target, sample: Sequence[Item], truth: Truth | None, batch_size: int,
              concurrency: int, counter: _Counter, progress: Callable) -> pd.DataFrame:
    with client_factory(url, model, profile) as client:
        if client.session is not None:
            client.session.hooks.setdefault("response", []).append(counter.hook)
        results = client.classify(sample, version=version, batch_size=batch_size, concurrency=concurrency,
                                  on_progress=progress)
        _, plan = client.plan(version=version)
    class_names = list(plan.labels or next((r.probabilities for r in results if r.ok), {}))
    where = Target(version=version, profile=profile) if version is not None else target.with_profile(profile)
    return pd.DataFrame([schema.result_row(result, class_names, model=model, target=where.text,
                                           ground_truth=truth_class((truth or {}).get(result.source)),
                                           profile=profile.digest) for result in results],
                        columns=schema.columns(class_names))
