"""The decision view through Streamlit's AppTest, on synthetic result frames: what it shows equals what the
test computes from the rows."""
from __future__ import annotations

import pytest
from scipy.stats import binomtest
from sklearn.metrics import cohen_kappa_score
from streamlit.testing.v1 import AppTest

from dashboard.plain import escape_markdown

HOSTILE = "**bold**<img src=x onerror=alert(1)>.jpg"


def view_script(fixes: int, regressions: int, with_truth: bool, same_target: bool, targets: int,
                hostile: str) -> None:
    import streamlit as st

    from dashboard.compare.decision import Side, compare_with_baseline
    from dashboard.compare.decision_view import render_decisions
    from dashboard.compare.promotion import promotion_plan
    from dashboard.runs.latency_probe import SideProbe
    from tests.dashboard.compare.decision_frames import fixes_and_regressions

    a, b = fixes_and_regressions(fixes, regressions, with_truth=with_truth)
    a.loc[0, "source"] = b.loc[0, "source"] = hostile
    if same_target:
        b = a.copy()
    sides = [Side(a, probe=SideProbe("a", (20.0, 30.0))), Side(b, probe=SideProbe("b", (10.0,)))]
    if targets == 3:
        sides.append(Side(b.assign(target="version:3", version=3), probe=SideProbe("c", (10.0,))))
    st.session_state.setdefault("corrections", [])

    def correct(source: str, truth: str) -> None:
        st.session_state["corrections"].append((source, truth))

    plan = promotion_plan("pets", label="stable", to_version=2, versions=[1, 2], labels={"stable": 1, "canary": 2})
    render_decisions(compare_with_baseline(sides), key_prefix="cmp", on_correction=correct, promotion=plan,
                     thumbnails={hostile: "data:image/png;base64,iVBORw0KGgo="})


def run(fixes=12, regressions=1, *, with_truth=True, same_target=False, targets=2) -> AppTest:
    app = AppTest.from_function(view_script, kwargs=dict(fixes=fixes, regressions=regressions, with_truth=with_truth,
                                                         same_target=same_target, targets=targets, hostile=HOSTILE),
                                default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def markdown_texts(app: AppTest) -> list[str]:
    return [e.value for kind in ("markdown", "caption", "success", "error", "info", "warning")
            for e in app.get(kind)]


def test_verdict_card_numbers_equal_what_the_rows_say():
    app = run(12, 1)
    # 60 images, 20 per class: A is wrong on 12 cats, B on 1 dog.
    p = binomtest(12, 13, 0.5).pvalue
    [verdict] = app.success
    assert verdict.value == escape_markdown(
        "Promote label:canary: it fixes 12 images and breaks 1 on 60 labelled images; the accuracy gain is +18.3 "
        "points, plausibly between +7.1 and +30.3.", limit=None)
    captions = [c.value for c in app.caption]
    [statistics] = [c for c in captions if c.startswith(escape_markdown("B is better: +18.3 points (95% CI",
                                                                        limit=None))]
    assert escape_markdown(f"12 fixes, 1 regression, McNemar p = {p:.4g} — significant at 0.05 on 60 images.",
                           limit=None) in statistics
    assert any(f"McNemar's exact test: p = {p:.4g}, two-sided, on the 13 images" in c for c in captions)
    metrics = {m.label: (m.value, m.delta) for m in app.metric}
    assert metrics[escape_markdown("A: label:stable")] == (f"{48 / 60:.1%}", "")
    assert metrics[escape_markdown("B: label:canary")] == (f"{59 / 60:.1%}", "+18.3 points")
    assert "McNemar's exact test" not in metrics   # no p as a headline figure
    assert metrics["Fixes / regressions"][0] == "12 / 1"


@pytest.mark.parametrize("fixes, regressions, with_truth, kind", [
    (12, 1, True, "Success"), (0, 9, True, "Error"), (5, 0, True, "Info"), (5, 3, False, "Info")])
def test_the_plain_verdict_is_the_first_thing_drawn(fixes, regressions, with_truth, kind):
    app = run(fixes, regressions, with_truth=with_truth)
    first = next(iter(app.main.children.values()))
    assert type(first).__name__ == kind
    assert first.value.startswith(("Promote", "Keep", "No verdict"))


def test_not_enough_evidence_gives_the_images_needed():
    app = run(5, 0)
    [verdict] = app.info
    assert verdict.value == escape_markdown(
        "Keep label:stable for now: label:canary fixes 5 images and breaks none on 60 labelled images (+8.3 points, "
        "plausibly between +0.7 and +18.1), too few to tell from chance; ≈ 12 more labelled images would settle it.",
        limit=None)
    assert any(text.startswith("About ") and "images would be needed" in text for text in markdown_texts(app))


def test_without_truth_agreement_and_kappa_from_the_rows():
    from tests.dashboard.compare.decision_frames import fixes_and_regressions
    a, b = fixes_and_regressions(5, 3, with_truth=False)
    app = run(5, 3, with_truth=False)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Agreement"] == f"{52 / 60:.1%}"
    assert metrics["Cohen's κ"] == f"{cohen_kappa_score(a['top_class'], b['top_class']):.2f}"
    assert metrics["Flips"] == "8"


@pytest.mark.slow
def test_flip_cell_lists_its_images_and_the_filter_shows_all():
    app = run(5, 3)
    cell = app.selectbox(key="cmp_flip_cell")
    assert cell.options == ["every image where the top class changed", "every image, the most changed first",
                            "cat → cat (15)", "dog → cat (5)", "dog → dog (17)", "dog → other (3)",
                            "other → other (20)"]
    # One table of images, under the selector: dataframes in page order are cost, the images, per-class recall.
    assert [len(frame.value) for frame in app.dataframe] == [2, 8, 3]
    cell.set_value("dog → cat (5)").run()
    listed = app.dataframe[1].value
    assert listed["source"].tolist() == [HOSTILE, "img/001.jpg", "img/002.jpg", "img/003.jpg", "img/004.jpg"]
    assert listed["thumbnail"].iloc[0] == "data:image/png;base64,iVBORw0KGgo="
    app.selectbox(key="cmp_flip_cell").set_value("every image, the most changed first").run()
    assert [len(frame.value) for frame in app.dataframe] == [2, 60, 3]


def image_count(app: AppTest) -> str:
    [count] = [c.value for c in app.caption if c.value.endswith("image(s)")]
    return count


@pytest.mark.slow
def test_a_clicked_flip_cell_is_what_the_selector_reads():
    app = run(5, 3)
    assert (app.selectbox(key="cmp_flip_cell").value, image_count(app)) == (
        "every image where the top class changed", "8 image(s)")
    # What st.altair_chart reports for a click on the cell A dog, B cat.
    app.session_state["cmp_flip_chart"] = {"selection": {"flip_cell": [{"a_class": "dog", "b_class": "cat"}]}}
    app.run()
    assert not app.exception
    assert (app.selectbox(key="cmp_flip_cell").value, image_count(app)) == ("dog → cat (5)", "5 image(s)")
    # The reader can still choose otherwise while the click stays on the chart.
    app.selectbox(key="cmp_flip_cell").set_value("dog → other (3)").run()
    assert (app.selectbox(key="cmp_flip_cell").value, image_count(app)) == ("dog → other (3)", "3 image(s)")


@pytest.mark.slow
def test_correction_control_calls_back_with_image_and_class():
    app = run(5, 0)
    true_class = app.selectbox(key="cmp_correct_class")
    assert (true_class.value, true_class.placeholder) == (None, "choose the true class")
    assert app.button(key="cmp_correct_save").disabled
    app.selectbox(key="cmp_correct_image").set_value("img/002.jpg")
    app.selectbox(key="cmp_correct_class").set_value("other").run()
    assert not app.button(key="cmp_correct_save").disabled
    app.button(key="cmp_correct_save").click().run()
    assert app.session_state["corrections"] == [("img/002.jpg", "other")]
    # The next image's class is chosen afresh.
    assert app.selectbox(key="cmp_correct_class").value is None and app.button(key="cmp_correct_save").disabled


def test_file_names_never_reach_markdown_unescaped():
    app = run(5, 0)
    for text in markdown_texts(app):
        assert "<img" not in text and "**bold**" not in text


def test_same_target_is_warned_and_promotion_and_downloads_are_offered():
    app = run(5, 0, same_target=True)
    assert escape_markdown("A and B are the same target (label:stable): any difference between them is noise, "
                           "not a change of model.", limit=None) in [w.value for w in app.warning]
    codes = [c.value for c in app.code]
    assert any('key: "stable"\n      value: 2' in code for code in codes)
    assert len(app.get("download_button")) == 4


@pytest.mark.slow
@pytest.mark.parametrize("targets, tabs", [(3, 2)])
def test_each_target_gets_a_tab_against_the_baseline(targets, tabs):
    app = run(5, 0, targets=targets)
    assert [t.label for t in app.tabs] == [escape_markdown("B: label:canary"), escape_markdown("B: version:3")]
    assert len(app.success) + len(app.info) + len(app.error) == tabs
