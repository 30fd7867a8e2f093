"""The client against the real embedded server serving the pets model (versions 1 and 2)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from client import (InvalidInputError, ModelNotFoundError, SignatureError, TFServingClient, TensorSpec,
                    VersionNotAvailableError, VersionStatus)
from client import plan as plan_module
from tests.support import pillow_full_decode_fails

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tfs(pets_server_url):
    with TFServingClient(pets_server_url, "pets", timeout=60, retries=2) as client:
        yield client


@pytest.fixture(scope="module")
def photos(shared_images: Path) -> list[tuple[Path, str]]:
    with open(shared_images / "manifest.csv", newline="") as handle:
        return [(shared_images / row["file"], row["label"]) for row in csv.DictReader(handle)]


def test_status(tfs):
    assert tfs.status() == (VersionStatus(1, "AVAILABLE", "OK", ""), VersionStatus(2, "AVAILABLE", "OK", ""))
    assert tfs.status(label="canary") == tfs.status()  # like TF Serving, status ignores labels...
    assert tfs.status(version=1) == (VersionStatus(1, "AVAILABLE", "OK", ""),)
    # ...so labels are resolved through their metadata
    resolved = [tfs.resolve_version(), tfs.resolve_version(label="stable"), tfs.resolve_version(label="canary")]
    assert resolved == [2, 1, 2]
    with pytest.raises(VersionNotAvailableError, match="Unrecognized servable version label: nope"):
        tfs.resolve_version(label="nope")


@pytest.mark.parametrize("version, size", [(1, 128), (2, 224)])
def test_metadata(tfs, version, size):
    metadata = tfs.metadata(version=version)
    assert (metadata.name, metadata.version) == ("pets", version)
    default = metadata.default
    assert default.method_name == "tensorflow/serving/predict"
    assert dict(default.inputs) == {"image_bytes": TensorSpec("image_bytes", "DT_STRING", (-1,))}
    assert dict(default.outputs) == {
        "classes": TensorSpec("classes", "DT_STRING", (-1, 3)),
        "imagenet_top5_labels": TensorSpec("imagenet_top5_labels", "DT_STRING", (-1, 5)),
        "imagenet_top5_scores": TensorSpec("imagenet_top5_scores", "DT_FLOAT", (-1, 5)),
        "probabilities": TensorSpec("probabilities", "DT_FLOAT", (-1, 3)),
    }
    assert metadata.signatures["predict_images"].inputs["images"] == TensorSpec(
        "images", "DT_FLOAT", (-1, size, size, 3))
    assert tfs.metadata(label="stable" if version == 1 else "canary").version == version


@pytest.mark.parametrize("target, version", [({"label": "stable"}, 1), ({"label": "canary"}, 2),
                                             ({"version": 1}, 1), ({}, 2)])
def test_classify_real_photos(tfs, photos, target, version):
    results = tfs.classify([path for path, _ in photos], batch_size=8, concurrency=2, **target)
    assert [r.source for r in results] == [str(path) for path, _ in photos]
    assert all(r.ok and r.version == version for r in results), [r.error for r in results if not r.ok]
    correct = sum(r.label == label for r, (_, label) in zip(results, photos))
    print(f"{target}: {correct}/{len(photos)} correct")
    assert correct >= 40  # measured 48-49 of 50; a floor, not the model's accuracy claim
    for r in results:
        assert list(r.probabilities) == ["cat", "dog", "other"]
        assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert r.label == max(r.probabilities, key=r.probabilities.get)
        assert len(r.extras["imagenet_top5_labels"]) == 5 and len(r.extras["imagenet_top5_scores"]) == 5
        assert r.latency_ms > 0


def as_png(path: Path) -> bytes:
    out = io.BytesIO()
    Image.open(path).convert("RGB").save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("version", [1, 2])
def test_float_signature_matches_bytes_signature(tfs, photos, version):
    """Lossless PNGs decode to the same pixels in Pillow and TensorFlow, so the client-side
    preprocessing for `predict_images` must reproduce the in-graph one: same probabilities."""
    items = [(path.name, as_png(path)) for path, _ in photos[::5]]
    as_bytes = tfs.classify(items, version=version)
    as_pixels = tfs.classify(items, version=version, signature_name="predict_images")
    assert all(r.ok for r in as_bytes + as_pixels)
    assert [r.label for r in as_pixels] == [r.label for r in as_bytes]
    for a, b in zip(as_bytes, as_pixels):
        for name in ("cat", "dog", "other"):
            assert a.probabilities[name] == pytest.approx(b.probabilities[name], abs=2e-3)


def test_float_signature_on_jpeg_photos(tfs, photos):
    """JPEGs: Pillow's and TensorFlow's decoders differ by about one grey level, so only labels agree."""
    paths = [path for path, _ in photos]
    as_bytes = tfs.classify(paths, version=1)
    as_pixels = tfs.classify(paths, version=1, signature_name="predict_images", batch_size=8)
    assert all(r.ok for r in as_pixels)
    agree = sum(a.label == b.label for a, b in zip(as_bytes, as_pixels))
    assert agree >= 47, f"labels agree on {agree}/50"


def test_batch_of_64_with_3_corrupt_files(tfs, photos, tmp_path):
    good = [path for path, _ in photos] + [path for path, _ in photos][:11]
    corrupt = {
        10: ("notes.jpg", b"this is not an image at all"),
        30: ("truncated.jpg", Path(photos[0][0]).read_bytes()[:300]),
        50: ("empty.png", b""),
    }
    items = []
    for i in range(64):
        items.append(corrupt[i] if i in corrupt else (f"photo{i}.jpg", good.pop(0).read_bytes()))
    results = tfs.classify(items, label="canary", batch_size=64, concurrency=1)
    assert len(results) == 64 and sum(r.ok for r in results) == 61
    errors = {r.source: r.error for r in results if not r.ok}
    assert errors == {
        "notes.jpg": "notes.jpg: not an image (Pillow cannot identify the file format)",
        "truncated.jpg": errors["truncated.jpg"],
        "empty.png": "empty.png: empty file (0 bytes), not an image",
    }
    assert errors["truncated.jpg"].startswith("truncated.jpg: corrupt or truncated image")


def test_server_side_400_is_isolated_by_splitting(tfs, photos, monkeypatch):
    """Bypass the client's Pillow check so a broken image reaches the real server and fails the batch."""
    original = plan_module.ClassifyPlan.instance
    monkeypatch.setattr(plan_module.ClassifyPlan, "instance",
                        lambda self, source, data: {self.input_name: data} if source == "bad.jpg"
                        else original(self, source, data))
    items = [(f"p{i}.jpg", path.read_bytes()) for i, (path, _) in enumerate(photos[:15])]
    items.insert(6, ("bad.jpg", b"GIF89a but not really"))
    results = tfs.classify(items, version=1, batch_size=16, concurrency=1)
    assert [r.source for r in results] == [name for name, _ in items]
    (bad,) = [r for r in results if not r.ok]
    assert bad.source == "bad.jpg" and bad.error_type == "InvalidInputError"
    assert bad.error.startswith("bad.jpg: rejected by the server (400): ")
    assert sum(r.ok for r in results) == 15


def damaged_in_the_scan(data: bytes, seed: int) -> bytes:
    """`data` with marker-like bytes written at four places of its coded data (the header left intact)."""
    damaged = bytearray(data)
    start = damaged.index(b"\xff\xda")
    for step in range(4):
        spot = start + 20 + (seed * 997 + step * 131) % (len(damaged) - start - 40)
        damaged[spot] = 0xFF if step % 2 else 0xD9 - seed
    return bytes(damaged)


def test_jpegs_damaged_inside_are_refused_by_the_server_one_row_each(tfs, photos):
    """The client does not decode a JPEG it sends as it is: damage inside the coded data that Pillow's full decode
    refuses reaches the server, whose decoder refuses it too, and only that image's row carries the error."""
    originals = [path.read_bytes() for path, _ in photos[:12]]
    damaged = {}
    for seed in range(8, 24):
        candidate = damaged_in_the_scan(originals[seed % len(originals)], seed)
        if pillow_full_decode_fails(candidate):
            damaged[f"damaged{seed}.jpg"] = candidate
    assert len(damaged) >= 3  # the damage does break most of them
    items = [(f"p{i}.jpg", data) for i, data in enumerate(originals)]
    for offset, (name, data) in enumerate(damaged.items()):
        items.insert(1 + 3 * offset, (name, data))
    results = tfs.classify(items, version=1, batch_size=16, concurrency=2)
    assert [r.source for r in results] == [name for name, _ in items]
    failed = {r.source: r for r in results if not r.ok}
    assert sorted(failed) == sorted(damaged)
    for name, result in failed.items():
        assert result.error_type == "InvalidInputError"
        assert result.error.startswith(f"{name}: rejected by the server (400): ")
    assert sum(r.ok for r in results) == len(originals)


def test_predict_raw_row_and_columnar(tfs, photos):
    data = photos[0][0].read_bytes()
    row = tfs.predict(instances=[{"image_bytes": data}], version=1)
    columnar = tfs.predict(inputs={"image_bytes": [data]}, version=1)
    assert row.outputs[0]["classes"] == ["cat", "dog", "other"]
    assert columnar.outputs["classes"] == [["cat", "dog", "other"]]
    assert row.outputs[0]["probabilities"] == pytest.approx(columnar.outputs["probabilities"][0])


def test_exact_errors(tfs, pets_server_url, photos):
    with TFServingClient(pets_server_url, "nosuch", timeout=10, retries=0) as other:
        with pytest.raises(ModelNotFoundError) as caught:
            other.metadata()
    assert (caught.value.status, caught.value.error) == (404, "Servable not found for request: Latest(nosuch)")
    with TFServingClient(pets_server_url, "nosuch", timeout=10, retries=0) as other:
        with pytest.raises(ModelNotFoundError) as caught:
            other.status()
    assert (caught.value.status, caught.value.error) == (404, "Could not find any versions of model nosuch")

    with pytest.raises(VersionNotAvailableError) as caught:
        tfs.predict(instances=[{"image_bytes": b"x"}], version=9)
    assert (caught.value.status, caught.value.error) == (404, "Servable not found for request: Specific(pets, 9)")
    assert caught.value.url == f"{pets_server_url}/v1/models/pets/versions/9:predict"
    with pytest.raises(VersionNotAvailableError) as caught:
        tfs.status(version=9)
    assert (caught.value.status, caught.value.error) == (404, "Could not find version 9 of model pets")

    with pytest.raises(VersionNotAvailableError) as caught:
        tfs.classify([photos[0][0]], label="nope")
    assert (caught.value.status, caught.value.error) == (400, "Unrecognized servable version label: nope")
    assert caught.value.method == "GET"

    with pytest.raises(InvalidInputError) as caught:
        tfs.predict(instances=[{"wrong_name": b"x"}], version=1)
    assert caught.value.status == 400 and caught.value.method == "POST"
    assert "image_bytes" in caught.value.error or "wrong_name" in caught.value.error
    with pytest.raises(SignatureError, match="has no signature 'nope'; it has ") as caught:
        tfs.classify([photos[0][0]], version=1, signature_name="nope")
    assert caught.value.url == f"{pets_server_url}/v1/models/pets/versions/1/metadata"


def test_exif_rotated_photo_is_classified_upright(tfs, photos):
    """A photo stored sideways with an EXIF rotation gets (almost) the upright photo's answer."""
    path = next(p for p, label in photos if label == "dog")
    upright = Image.open(path).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 8  # viewers rotate 90° counter-clockwise to display: the pixels are stored turned clockwise
    stored = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_270).save(stored, format="JPEG", quality=95, exif=exif.tobytes())
    shown = ImageOps.exif_transpose(Image.open(io.BytesIO(stored.getvalue())))
    assert shown.size == upright.size
    a, b = tfs.classify([path, ("sideways.jpg", stored.getvalue())], version=2)
    assert a.label == b.label == "dog"
    assert b.probabilities["dog"] == pytest.approx(a.probabilities["dog"], abs=0.05)
