"""One signature digest: the run record, History, Compare and the report name a signature by the same string."""
from __future__ import annotations

import hashlib
import json
import re

from client.protocol import SignatureSpec
from dashboard.server.signatures import ABSENT, signature_digest, signature_json, tensor_text


def _spec(shape=(-1, 224, 224, 3), name="serving_default") -> SignatureSpec:
    tensor = {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": str(d)} for d in shape]}}
    return SignatureSpec.from_json(name, {
        "method_name": "tensorflow/serving/predict", "inputs": {"images": tensor},
        "outputs": {"probabilities": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}, {"size": "3"}]}}}})


def _digest_stored_before_the_prefix(spec: SignatureSpec) -> str:
    """The bare hex a run record held before schema version 3 (written out here as it was computed then)."""
    def tensors(specs):
        return {name: [t.dtype, list(t.shape) if t.shape is not None else None] for name, t in sorted(specs.items())}
    canonical = {"name": spec.name, "method": spec.method_name, "inputs": tensors(spec.inputs),
                 "outputs": tensors(spec.outputs)}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def test_the_digest_is_prefixed_sha256_of_the_canonical_json():
    spec = _spec()
    digest = signature_digest(spec)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert digest == "sha256:" + hashlib.sha256(signature_json(spec).encode()).hexdigest()
    assert json.loads(signature_json(spec)) == {
        "name": "serving_default", "method": "tensorflow/serving/predict",
        "inputs": {"images": ["DT_FLOAT", [-1, 224, 224, 3]]}, "outputs": {"probabilities": ["DT_FLOAT", [-1, 3]]}}


def test_migrated_run_records_name_the_signature_as_compare_does():
    # Schema version 3 prefixes the stored bare hex: that is only right if the hashed text is the same.
    for spec in (_spec(), _spec((-1, 128, 128, 3)), _spec(name="predict_images")):
        assert "sha256:" + _digest_stored_before_the_prefix(spec) == signature_digest(spec)


def test_equal_signatures_equal_digests_and_any_change_changes_it():
    assert signature_digest(_spec()) == signature_digest(_spec())
    assert signature_digest(_spec()) != signature_digest(_spec((-1, 128, 128, 3)))
    assert signature_digest(_spec()) != signature_digest(_spec(name="other"))


def test_tensor_text():
    assert tensor_text(None) == ABSENT
    assert tensor_text(_spec().inputs["images"]) == "DT_FLOAT [-1, 224, 224, 3]"
