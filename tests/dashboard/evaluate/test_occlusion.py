"""Where the model looked (dashboard.evaluate.occlusion): the grid and heatmap arithmetic, and the map of a model
whose answer depends only on the top-left quadrant of the image, served by the real embedded server."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from client import TFServingClient
from dashboard.evaluate import occlusion
from tests.support import embedded_server


# -- the arithmetic -------------------------------------------------------------------------------------------
def test_cell_edges_split_the_pixels_as_evenly_as_whole_pixels_allow():
    assert occlusion.cell_edges(10, 4) == [0, 2, 5, 8, 10]
    assert occlusion.cell_edges(96, 8) == [0, 12, 24, 36, 48, 60, 72, 84, 96]
    assert occlusion.cell_edges(3, 3) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="cannot split 3 pixel"):
        occlusion.cell_edges(3, 4)


def test_each_masked_copy_paints_one_cell_with_the_mean_colour():
    pixels = np.zeros((4, 6, 3), dtype=np.uint8)
    pixels[:, :3] = (200, 100, 0)          # left half coloured, right half black: mean (100, 50, 0)
    copies = occlusion.masked_copies(pixels, 2)
    assert len(copies) == 4
    for index, copy in enumerate(copies):
        row, column = divmod(index, 2)
        changed = np.argwhere((copy != pixels).any(axis=2))
        cell = copy[row * 2:(row + 1) * 2, column * 3:(column + 1) * 3]
        assert (cell == (100, 50, 0)).all()
        assert set(map(tuple, changed)) <= {(r, c) for r in range(row * 2, row * 2 + 2)
                                            for c in range(column * 3, column * 3 + 3)}
    assert (pixels[:, :3] == (200, 100, 0)).all()   # the original is untouched
    assert (occlusion.masked_copies(pixels, 2, fill=(1, 2, 3))[3][2:, 3:] == (1, 2, 3)).all()


def test_drops_are_the_base_minus_each_masked_probability_row_by_row():
    drops = occlusion.drops_of(0.9, [0.9, 0.5, None, 0.95], 2)
    assert drops.shape == (2, 2)
    assert drops[0, 0] == 0.0 and drops[0, 1] == pytest.approx(0.4) and np.isnan(drops[1, 0])
    assert drops[1, 1] == pytest.approx(-0.05)
    assert occlusion.hottest_cells(drops, 2) == [(0, 1), (0, 0)]   # NaN never counts, a rise is last
    with pytest.raises(ValueError, match="3 masked probabilities for a 2 × 2 grid"):
        occlusion.drops_of(0.9, [0.1, 0.2, 0.3], 2)


def test_the_overlay_tints_the_hottest_cell_most_and_a_cell_that_costs_nothing_not_at_all():
    pixels = np.full((40, 80, 3), 255, dtype=np.uint8)   # white, 80 × 40
    drops = np.array([[0.5, 0.25], [0.0, -0.3]])
    picture = np.asarray(Image.open(io.BytesIO(occlusion.overlay_png(pixels, drops, side=160))).convert("RGB"))
    assert picture.shape == (80, 160, 3)                # longer side 160, aspect kept
    hottest, half, nothing, negative = picture[10, 10], picture[10, 120], picture[60, 10], picture[60, 120]
    alpha = occlusion.HEAT_OPACITY
    red = np.array(occlusion.HEAT_RGB)
    assert np.abs(hottest - np.rint(255 * (1 - alpha) + red * alpha)).max() <= 1
    assert np.abs(half - np.rint(255 * (1 - alpha / 2) + red * alpha / 2)).max() <= 1
    assert (nothing == 255).all() and (negative == 255).all()


def test_the_map_states_its_cost_and_resolution():
    found = occlusion.OcclusionMap(predicted_class="cat", base_probability=0.9, drops=np.zeros((8, 8)), grid=8,
                                   image_size=(96, 72), requests=1, images=65, seconds=0.84, overlay=b"")
    assert found.cost_text() == "1 request, 65 images, 0.8 s"
    assert found.resolution_text() == ("computed on the 96 × 72 px image, 8 × 8 cells of about 12 × 9 px, each "
                                       "masked with the image's mean colour")


# -- against a model that looks at one known region -------------------------------------------------------------
CLASSES = ("bright", "dark")


def build_top_left_model(export_dir) -> None:
    """image_bytes [-1] -> probabilities [-1, 2]: P(bright) is the mean brightness of the top-left quadrant of the
    image resized to 32 × 32; the rest of the image never matters."""
    import tensorflow as tf

    class TopLeft(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
        def serve(self, image_bytes):
            def brightness(one):
                pixels = tf.image.decode_image(one, channels=3, expand_animations=False, dtype=tf.float32)
                small = tf.image.resize(pixels, [32, 32])
                return tf.reduce_mean(small[:16, :16, :])
            bright = tf.clip_by_value(tf.map_fn(brightness, image_bytes, fn_output_signature=tf.float32), 0.0, 1.0)
            count = tf.shape(image_bytes)[0]
            return {"probabilities": tf.stack([bright, 1.0 - bright], axis=1),
                    "classes": tf.tile(tf.constant([list(CLASSES)]), [count, 1])}

    module = TopLeft()
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})


def quadrant_image(width: int = 96, height: int = 72) -> bytes:
    """Dark with a bright top-left quadrant, a little texture everywhere (a JPEG, like a stored thumbnail)."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(10, 40, size=(height, width, 3)).astype(np.uint8)
    pixels[:height // 2, :width // 2] = rng.integers(215, 250, size=(height // 2, width // 2, 3))
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def top_left_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("looker")
    build_top_left_model(root / "1")
    with embedded_server(["--model_name=looker", f"--model_base_path={root}"], wait_for_models={"looker": 1}) as url:
        yield url


@pytest.mark.slow
def test_the_hottest_cells_are_the_quadrant_the_model_reads(top_left_server):
    with TFServingClient(top_left_server, "looker", timeout=60, retries=0) as client:
        found = occlusion.occlusion_map(client, quadrant_image(), grid=8)
    assert (found.predicted_class, found.requests, found.images, found.grid) == ("bright", 1, 65, 8)
    assert found.image_size == (96, 72) and found.failed_cells == 0
    assert 0.8 < found.base_probability < 0.95
    quadrant = {(row, column) for row in range(4) for column in range(4)}
    assert set(occlusion.hottest_cells(found.drops, 16)) == quadrant
    outside = np.array([found.drops[r, c] for r in range(8) for c in range(8) if (r, c) not in quadrant])
    assert np.abs(outside).max() < 1e-6              # masking where the model does not look changes nothing
    assert min(found.drops[r, c] for r, c in quadrant) > 0.02
    overlay = Image.open(io.BytesIO(found.overlay))
    assert overlay.size == (occlusion.OVERLAY_SIDE, occlusion.OVERLAY_SIDE * 72 // 96)


@pytest.mark.slow
def test_a_fixed_class_is_followed_and_an_unreadable_image_is_refused(top_left_server):
    with TFServingClient(top_left_server, "looker", timeout=60, retries=0) as client:
        dark = occlusion.occlusion_map(client, quadrant_image(), grid=4, predicted_class="dark")
        with pytest.raises(occlusion.OcclusionError, match="no map: not a readable image"):
            occlusion.occlusion_map(client, b"not an image", grid=4)
        with pytest.raises(occlusion.OcclusionError, match="cannot split 2 pixel"):
            occlusion.occlusion_map(client, quadrant_image(2, 2), grid=4)
    assert dark.predicted_class == "dark" and dark.images == 17
    # Masking the bright quadrant makes the image darker: P(dark) rises there, so those drops are negative.
    assert all(dark.drops[r, c] < -0.02 for r in range(2) for c in range(2))
