"""The built pets versions load the way TF Serving loads a SavedModel: a tf.compat.v1 Session whose variables are
set only by the SavedModel's restore op. A Keras 3 model saved inside a tf.Module with tf.saved_model.save leaves
247 of them unset there (tensorflow/tensorflow#72963), so the `tensorflow/serving` image would fail every request.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
import tensorflow as tf

from pets import VERSION_SIZES
from pets.preprocessing import preprocess_encoded_batch
from pets.warmup import synthetic_jpeg
from serving.loader import load_version, read_serve_meta_graph, unrestored_variables
from tests.support import serving_process

OUTPUT_KEYS = ["classes", "imagenet_top5_labels", "imagenet_top5_scores", "probabilities"]
JPEGS = [synthetic_jpeg(index) for index in range(3)]


def session_outputs(export_dir: Path, signature_name: str, value: np.ndarray) -> dict[str, np.ndarray]:
    """Run one signature as TF Serving does: Session, SavedModel restore op, feeds and fetches by tensor name."""
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(export_dir))
        signature = meta_graph.signature_def[signature_name]
        (input_info,) = signature.inputs.values()
        fetches = {key: info.name for key, info in signature.outputs.items()}
        return session.run(fetches, {input_info.name: value})


@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(VERSION_SIZES))
def test_the_restore_op_sets_every_variable_the_signatures_read(pets_build_dir, version):
    export_dir = pets_build_dir / str(version)
    meta_graph = read_serve_meta_graph(export_dir)
    assert unrestored_variables(meta_graph) == []
    variables = [node.name for node in meta_graph.graph_def.node if node.op == "VarHandleOp"]
    assert len(variables) == 249  # 247 backbone variables + the head's weights and bias, each saved once
    assert load_version("pets", version, export_dir).tf_serving_caveat == ""


@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(VERSION_SIZES))
def test_a_session_load_answers_both_signatures_as_the_tf2_functions_do(pets_build_dir, loaded_versions, version):
    export_dir = pets_build_dir / str(version)
    encoded = np.array(JPEGS, dtype=object)
    pixels = preprocess_encoded_batch(tf.constant(JPEGS), VERSION_SIZES[version]).numpy()
    for signature_name, value in (("serving_default", encoded), ("predict_images", pixels)):
        in_session = session_outputs(export_dir, signature_name, value)
        expected = loaded_versions[version].signatures[signature_name](tf.constant(value))
        assert sorted(in_session) == OUTPUT_KEYS
        for key in OUTPUT_KEYS:
            assert np.array_equal(in_session[key], expected[key].numpy()), (signature_name, key)
    assert in_session["classes"].tolist() == [[b"cat", b"dog", b"other"]] * 3


@pytest.mark.slow
def test_the_embedded_server_runs_pets_through_its_session(pets_build_dir):
    """No version falls back to TF2 functions (the server logs a caveat when one does), and REST predictions
    equal a Session run of the same SavedModel."""
    config = pets_build_dir / "models.config"
    with serving_process([f"--model_config_file={config}"], wait_for_models={"pets": 2}) as (_, base_url):
        answers = {}
        for version in sorted(VERSION_SIZES):
            response = requests.post(
                f"{base_url}/v1/models/pets/versions/{version}:predict", timeout=60,
                json={"instances": [{"b64": base64.b64encode(jpeg).decode()} for jpeg in JPEGS]})
            assert response.status_code == 200, response.text
            answers[version] = response.json()["predictions"]
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"servescope-server-{urlsplit(base_url).port}.log"
    assert "is AVAILABLE" in log.read_text()
    assert "TF Serving cannot run this SavedModel" not in log.read_text()
    for version, predictions in answers.items():
        expected = session_outputs(pets_build_dir / str(version), "serving_default", np.array(JPEGS, dtype=object))
        assert [row["classes"] for row in predictions] == [["cat", "dog", "other"]] * 3
        assert np.allclose([row["probabilities"] for row in predictions], expected["probabilities"],
                           rtol=1e-5, atol=0)  # REST's %g text keeps 6 significant digits
        assert [row["imagenet_top5_labels"] for row in predictions] == [
            [label.decode() for label in row] for row in expected["imagenet_top5_labels"]]
