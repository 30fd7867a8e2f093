"""Who may delete a dataset on the Datasets page (AppTest, each session a browser of its own, the test's own run
store and image store): the browser that saved an upload as a dataset sees Delete and deletes it; another browser
sees no Delete and is told who may; an operator deletes a dataset the CLI made; a confirmation drawn for an operator
who has since cleared the token deletes nothing."""
from __future__ import annotations

import pytest

from dashboard.runs.ownership import WHO_MAY_DELETE_DATASET
from tests.dashboard.datasets.support import OPERATOR_TOKEN, datasets_at, make_dataset
from tests.dashboard.readable import texts
from tests.dashboard.test_pages import BLUE, GREEN, RED, png_upload
from tests.support import png_bytes


def keys(app) -> set[str]:
    return {button.key for button in app.button}


@pytest.mark.slow
def test_the_browser_that_saved_a_dataset_deletes_it_and_another_browser_cannot(page, fake_pets, tmp_path):
    owner = page("classify", fake_pets.url).run()
    owner.file_uploader[0].set_value([png_upload("a.png", RED), png_upload("b.png", GREEN)]).run()
    owner.text_input(key="classify_0_dataset_name").input("mine").run()
    owner.button(key="classify_0_dataset_save").click().run()
    assert not owner.exception
    data = datasets_at(tmp_path)
    saved = data.get("mine")
    assert (saved.version, saved.images) == (1, 2)
    assert saved.created_by is not None and len(saved.created_by) == 64   # the browser's digest, never its token

    other = page("datasets", fake_pets.url).run()
    assert other.selectbox(key="datasets_chosen").value == "mine"
    assert "datasets_delete" not in keys(other)
    assert WHO_MAY_DELETE_DATASET in texts(other.caption)
    # A new version saved by that other browser (open to everyone) keeps the creator.
    data.add_images("mine", [("c.png", lambda: png_bytes(BLUE))])
    assert data.get("mine").created_by == saved.created_by

    owner.switch_page("app_pages/datasets.py").run()
    assert WHO_MAY_DELETE_DATASET not in texts(owner.caption)
    owner.button(key="datasets_delete").click().run()
    owner.button(key="datasets_delete_yes").click().run()
    assert not owner.exception
    assert data.find(saved.dataset_id) is None
    assert texts(owner.info)[0] == ("Deleted dataset 'mine' (2 version(s)); 3 image(s) no other dataset or run uses "
                                    "were deleted from the image store.")


def test_an_operator_deletes_a_cli_dataset_and_a_stale_confirmation_deletes_nothing(page, fake_pets, tmp_path):
    made = make_dataset(tmp_path, "from the cli", {"cat/1.png": png_bytes(RED)})
    assert made.created_by is None
    app = page("datasets", fake_pets.url, SERVESCOPE_OPERATOR_TOKEN=OPERATOR_TOKEN).run()
    assert "datasets_delete" not in keys(app) and WHO_MAY_DELETE_DATASET in texts(app.caption)
    app.text_input(key="sidebar_operator_token").input(OPERATOR_TOKEN).run()
    assert WHO_MAY_DELETE_DATASET not in texts(app.caption)
    app.button(key="datasets_delete").click().run()
    # The token is cleared while the confirmation is on screen; its button, pressed then, is refused.
    app.text_input(key="sidebar_operator_token").input("")
    app.button(key="datasets_delete_yes").click().run()
    assert not app.exception
    assert texts(app.info)[0] == f"Dataset 'from the cli' was not deleted. {WHO_MAY_DELETE_DATASET}"
    assert datasets_at(tmp_path).find(made.dataset_id) is not None
    assert "datasets_delete" not in keys(app) and WHO_MAY_DELETE_DATASET in texts(app.caption)
    # Typed again, the operator deletes it.
    app.text_input(key="sidebar_operator_token").input(OPERATOR_TOKEN).run()
    app.button(key="datasets_delete").click().run()
    app.button(key="datasets_delete_yes").click().run()
    assert datasets_at(tmp_path).find(made.dataset_id) is None
    assert texts(app.info)[0] == ("Deleted dataset 'from the cli' (1 version(s)); 1 image(s) no other dataset or "
                                  "run uses were deleted from the image store.")
