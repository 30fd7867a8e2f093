"""The Compare page tests' fake TF Serving with two versions that disagree in a known way, and their helpers."""
from __future__ import annotations

import base64
import io
import json
import re
import threading

from PIL import Image
from werkzeug.wrappers import Request

from client.store.database import open_store
from dashboard.ui import state
from tests.dashboard.readable import texts
from tests.support import fake_metadata, fake_status, json_response, png_bytes, wait_until, zip_bytes

FINAL = ("complete", "cancelled", "interrupted", "failed")
RED, GREEN, BLUE = (200, 10, 10), (10, 200, 10), (10, 10, 200)
SWAPPED = (10, 200, 77)   # version 2 swaps cat and dog for this colour (blue channel 77): v1 says dog, v2 cat


def probabilities(image: bytes, version: int) -> list[float]:
    red, green, blue = Image.open(io.BytesIO(image)).convert("RGB").getpixel((0, 0))
    total = red + green + blue or 1
    cat, dog, other = red / total, green / total, blue / total
    if version == 2 and blue == 77:
        cat, dog = dog, cat
    return [cat, dog, other]


class TwoVersions:
    """pets versions 1 and 2, labels stable -> 1 and canary -> 2; version 2 answers SWAPPED images differently.
    Version 3 (served when listed in `versions`) names its third class "bird" instead of "other"."""

    def __init__(self) -> None:
        self.labels = {"stable": 1, "canary": 2}
        self.predicts: list[tuple[int, int]] = []   # (version, images) per predict request
        self.gate: threading.Event | None = None      # when set up, batches (not probes) wait for it
        self.versions = (1, 2)

    def __call__(self, request: Request):
        path = request.path
        if request.method == "GET":
            if label := re.search(r"/labels/([^/]+)/metadata$", path):
                if label[1] not in self.labels:
                    return json_response({"error": f"Unrecognized servable version label: {label[1]}"}, 400)
                return json_response(fake_metadata(version=self.labels[label[1]]))
            if version := re.search(r"/versions/(\d+)/metadata$", path):
                return json_response(fake_metadata(version=int(version[1])))
            if path.endswith("/metadata"):
                return json_response(fake_metadata(version=2))
            if version := re.search(r"/versions/(\d+)$", path):
                return json_response(fake_status(int(version[1])))
            return json_response(fake_status(*self.versions))
        version = int(re.search(r"/versions/(\d+):predict$", path)[1])
        images = [base64.b64decode(i["image_bytes"]["b64"]) for i in json.loads(request.get_data())["instances"]]
        self.predicts.append((version, len(images)))
        if self.gate is not None and len(images) > 1:
            self.gate.wait(timeout=60)
        classes = ["cat", "dog", "bird" if version == 3 else "other"]
        return json_response({"predictions": [{"probabilities": probabilities(image, version), "classes": classes}
                                              for image in images]})


def labelled_zip() -> bytes:
    """18 images in class folders: 5 fixes (cat folder, SWAPPED) and 1 regression (dog folder, SWAPPED)."""
    members = {}
    for i in range(4):
        members[f"pets/cat/red{i}.png"] = png_bytes(RED)
        members[f"pets/dog/green{i}.png"] = png_bytes(GREEN)
        members[f"pets/other/blue{i}.png"] = png_bytes(BLUE)
    for i in range(5):
        members[f"pets/cat/swapped{i}.png"] = png_bytes(SWAPPED)
    members["pets/dog/swapped.png"] = png_bytes(SWAPPED)
    return zip_bytes(members)


def open_compare(page, url: str, database: str, **environment):
    return page("compare", url, SERVESCOPE_DB=database, **environment).run()


def start_comparison(app, upload) -> str:
    app.file_uploader(key="compare_uploads").set_value([upload]).run()
    assert not app.exception, app.exception
    app.button(key="compare_run").click().run()
    assert not app.exception, app.exception
    return app.session_state[state.COMPARISON]


def wait_for(database: str, comparison_id: str, timeout: float = 60, *, thumbnails: bool = True):
    """The store and the comparison's run ids once every run has ended (and, unless told not to, the first
    side's thumbnails are stored: they follow its rows)."""
    store = open_store(database)
    comparison = store.get_comparison(comparison_id)
    run_ids = [comparison.baseline_run_id, *comparison.other_run_ids]
    wait_until(lambda: all(store.get_run(r).status in FINAL for r in run_ids), timeout=timeout,
               what=f"the runs of comparison {comparison_id}")
    # After the runs, the latency probe times each side alone (dashboard.runs.latency_probe); the job ends after it.
    wait_until(lambda: not any(state.run_manager().is_active(r) for r in run_ids), timeout=timeout,
               what=f"the latency probe of comparison {comparison_id}")
    if thumbnails:
        assert state.run_manager().wait_thumbnails(run_ids[0], timeout), f"the thumbnails of run {run_ids[0]}"
    return store, run_ids


def frame_with(app, column: str, index: int = 0):
    """The `index`-th dataframe on the page that has `column` (the page's tables in page order)."""
    return [frame.value for frame in app.dataframe if column in frame.value.columns][index]


def verdict_of(app) -> str:
    """The statistics sentence under the plain-language verdict (a caption of the verdict card)."""
    [sentence] = [c for c in texts(app.caption) if re.match(r"^(B is|No detectable|Not enough)", c)]
    return sentence


def headline_of(app) -> str:
    """The plain-language verdict: the box that opens the decision view."""
    boxes = texts(app.success) + texts(app.info) + texts(app.error)
    [sentence] = [b for b in boxes if re.match(r"^(Promote|Keep|No clear difference|No verdict)", b)]
    return sentence


def paired_counts(store, baseline: str, other: str) -> dict:
    a, b = store.run_rows(baseline).set_index("source"), store.run_rows(other).set_index("source")
    truth = a["correction"].where(a["correction"].notna(), a["ground_truth"])
    right_a, right_b = a["top_class"] == truth, b.loc[a.index, "top_class"] == truth
    return {"n": len(a), "fixes": int((~right_a & right_b).sum()), "regressions": int((right_a & ~right_b).sum()),
            "acc_a": float(right_a.mean()), "acc_b": float(right_b.mean())}


def counted(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('x') else 's'}"
