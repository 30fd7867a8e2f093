"""The client over gRPC against the real embedded server (`python -m serving --port`, pets versions 1 and 2):
the same answers as over REST, bit for bit for the float32 probabilities, on both signatures; labels; the server's
own errors as the same classes."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from client import InvalidInputError, ModelNotFoundError, TFServingClient, VersionNotAvailableError
from tests.support import PETS_CONFIG, free_port, serving_process

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def both():
    """(REST client, gRPC client) of one embedded server serving pets on a REST and a gRPC port."""
    grpc_port = free_port()
    with serving_process([f"--model_config_file={PETS_CONFIG}", f"--port={grpc_port}"],
                         wait_for_models={"pets": 2}) as (_, rest_url):
        with TFServingClient(rest_url, "pets", timeout=60) as rest, \
                TFServingClient(f"grpc://127.0.0.1:{grpc_port}", "pets", timeout=60) as grpc_client:
            yield rest, grpc_client


@pytest.fixture(scope="module")
def photos(shared_images: Path) -> list[Path]:
    with open(shared_images / "manifest.csv", newline="") as handle:
        return [shared_images / row["file"] for row in csv.DictReader(handle)][::3]


def test_status_metadata_and_labels_are_the_same_on_both(both):
    rest, grpc_client = both
    assert grpc_client.status() == rest.status()
    for version in (1, 2):
        assert grpc_client.metadata(version=version) == rest.metadata(version=version)
    assert [grpc_client.resolve_version(label=label) for label in ("stable", "canary")] == [1, 2]
    assert grpc_client.resolve_version() == 2


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("signature", ["serving_default", "predict_images"])
def test_predictions_are_the_same_bit_for_bit(both, photos, version, signature):
    rest, grpc_client = both
    over_rest = rest.classify(photos, version=version, signature_name=signature, batch_size=16, concurrency=3)
    over_grpc = grpc_client.classify(photos, version=version, signature_name=signature, batch_size=16, concurrency=3)
    assert all(r.ok for r in over_rest + over_grpc), [r.error for r in over_rest + over_grpc if not r.ok]
    assert [r.label for r in over_grpc] == [r.label for r in over_rest]
    for a, b in zip(over_rest, over_grpc):
        assert np.array_equal(np.float32(list(a.probabilities.values())), np.float32(list(b.probabilities.values())))
        assert b.version == version


def test_the_servers_errors_are_the_same_classes(both, photos):
    rest, grpc_client = both
    with pytest.raises(VersionNotAvailableError, match=r"Specific\(pets, 9\)"):
        grpc_client.metadata(version=9)
    with pytest.raises(VersionNotAvailableError, match="Unrecognized servable version label: nope"):
        grpc_client.resolve_version(label="nope")
    with pytest.raises(ModelNotFoundError):
        TFServingClient(grpc_client.base_url, "nope", retries=0).status()
    with pytest.raises(InvalidInputError):
        grpc_client.predict(instances=[{"wrong_name": b"x"}], version=1)
    broken = [(path.name, path.read_bytes()) for path in photos[:3]] + [("notes.jpg", b"not an image")]
    results = grpc_client.classify(broken, version=1)
    assert [r.ok for r in results] == [True, True, True, False]
    assert results[3].error_type == "ImageError"
