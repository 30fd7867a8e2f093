"""Fixtures for the store suite: an S3-compatible server (moto) and an image store on each backend."""
from __future__ import annotations

import uuid

import pytest

from client.store.images import open_image_store
from tests.client.store.s3 import running_s3


@pytest.fixture(scope="session")
def s3_server():
    with running_s3() as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def image_store(request, any_store, tmp_path):
    """An image store on a local folder and on S3 (moto), indexed in `any_store` (SQLite and PostgreSQL)."""
    if request.param == "local":
        return open_image_store(any_store, tmp_path / "blobs", quota_bytes=None)
    server = request.getfixturevalue("s3_server")
    prefix = f"s3://{server.bucket}/{uuid.uuid4().hex[:10]}"
    return open_image_store(any_store, prefix, quota_bytes=None, **server.options)
