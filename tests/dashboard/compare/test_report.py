"""The downloadable comparison report: stamped, escaped, charts as inert SVG images or a plain note without them."""
from __future__ import annotations

import base64
import re
import sys
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest

from client.protocol import SignatureSpec
from dashboard.compare.decision import Side, decide
from dashboard.compare.promotion import promotion_plan
from dashboard.compare.report import NO_CHARTS, report_html, report_markdown
from dashboard.plain import escape_markdown
from dashboard.server.signatures import signature_digest
from tests.dashboard.compare.decision_frames import fixes_and_regressions

HOSTILE = "<script>alert(1)</script>![x](http://evil.example/b.png)|cat.jpg"
WHEN = datetime(2026, 11, 26, 4, 30, tzinfo=timezone.utc)


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])


def signature(size: int) -> SignatureSpec:
    return SignatureSpec.from_json("serving_default", {"method_name": "tensorflow/serving/predict", "inputs": {
        "images": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}, {"size": str(size)}]}}}})


@pytest.fixture
def decision():
    a, b = fixes_and_regressions(6, 1)
    a.loc[0, "source"] = b.loc[0, "source"] = HOSTILE
    return decide(Side(a, signature=signature(128)), Side(b, signature=signature(224)))


@pytest.mark.slow
def test_html_report_is_stamped_escaped_and_has_inert_svg_charts(decision):
    plan = promotion_plan("pets", label="stable", to_version=2, versions=[1, 2], labels={"stable": 1, "canary": 2})
    page = report_html(decision, promotion=plan, generated_at=WHEN)
    parser = Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for text in ("pets", "2026-11-26T04:30:00+00:00", "60 (60 classified by both, 60 with ground truth)",
                 "label:stable (version 1); signature " + signature_digest(signature(128)),
                 "label:canary (version 2); signature " + signature_digest(signature(224))):
        assert text in page
    assert decision.sentence.replace("'", "&#x27;") in page
    assert "McNemar" in page and "Move &#x27;stable&#x27; to version 2" in page
    assert len(parser.images) == 4   # flip matrix, shift, confusion difference, reliability
    for source in parser.images:
        prefix = "data:image/svg+xml;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix):]).decode("utf-8").startswith("<svg")
    assert NO_CHARTS not in page


def test_without_vl_convert_the_report_says_so_and_keeps_the_tables(decision, monkeypatch):
    monkeypatch.setitem(sys.modules, "vl_convert", None)   # import now fails, as without the `report` extra
    page = report_html(decision, generated_at=WHEN)
    assert NO_CHARTS in page and "<img" not in page
    assert "<h2>Flip matrix (A rows, B columns)</h2>" in page and "<h2>Per-class recall</h2>" in page


def test_markdown_report_escapes_file_and_server_text(decision):
    text = report_markdown(decision, generated_at=WHEN)
    assert "<script>" not in text and "](http" not in text
    assert r"\<script\>alert\(1\)\<\/script\>\!\[x\]\(http\:" in text
    # A | inside a name cannot open a new table cell: every table row has as many cells as its header.
    rows = [line for line in text.splitlines() if line.startswith("| source |")]
    assert rows, "the changed-images table is there"
    header_cells = len(re.findall(r"(?<!\\)\|", rows[0]))
    table = text[text.index(rows[0]):].split("\n\n")[0].splitlines()
    assert {len(re.findall(r"(?<!\\)\|", line)) for line in table} == {header_cells}
    assert "Charts: see the HTML report." in text


def test_the_plain_verdict_opens_both_reports_before_the_statistics(decision):
    assert decision.headline == ("Keep label:stable for now: label:canary fixes 6 images and breaks 1 on 60 labelled "
                                 "images (+8.3 points, plausibly between -0.8 and +18.6), too few to tell from chance; "
                                 "≈ 69 more labelled images would settle it.")
    page = report_html(decision, generated_at=WHEN, render_charts=False)
    body = page[page.index("<body>"):]
    assert body.index("<p class='verdict'>Keep label:stable for now:") < body.index("<table>") < body.index(
        decision.sentence.replace("'", "&#x27;"))
    blocks = report_markdown(decision, generated_at=WHEN).split("\n\n")
    assert blocks[1] == f"**{escape_markdown(decision.headline, limit=None)}**"
    assert blocks[2].startswith("| ") and blocks[3] == escape_markdown(decision.sentence, limit=None)


def test_the_promotion_steps_wrap_at_the_page_edge_in_both_reports(decision, monkeypatch):
    """Issue 23: the promotion lines were cut at the box's edge. Each step's words are a paragraph (they wrap);
    only the config is a block, and in HTML it wraps too."""
    monkeypatch.setitem(sys.modules, "vl_convert", None)
    plan = promotion_plan("pets", label="stable", to_version=2, versions=[1, 2], labels={"stable": 1, "canary": 2})
    page = report_html(decision, promotion=plan, generated_at=WHEN)
    assert "white-space:pre-wrap" in page and "overflow-x:auto" not in page
    promotion = page.split("<h2>Promotion</h2>", 1)[1]
    for number, step in enumerate(plan.steps, 1):
        assert f"<h3>{number}. " in promotion
        explanation = step.explanation.replace("'", "&#x27;").replace('"', "&quot;")
        assert f"<p>{explanation}</p>" in promotion
    assert promotion.count("<pre>") == sum(1 for step in plan.steps if step.config)
    text = report_markdown(decision, promotion=plan, generated_at=WHEN)
    section = text.split("## Promotion", 1)[1]
    blocks = re.findall(r"```text\n(.*?)\n```", section, flags=re.S)
    assert blocks == [step.config for step in plan.steps if step.config]
    outside = re.sub(r"```text\n.*?\n```", "", section, flags=re.S)
    assert all(escape_markdown(step.explanation, limit=None) in outside for step in plan.steps)
    # The latency line says how the cost table was measured, in both.
    assert escape_markdown(decision.latency_how, limit=None) in text and decision.latency_how in page
