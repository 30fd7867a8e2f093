"""A real S3-compatible server for tests: moto's server mode on a free loopback port, with one bucket."""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Iterator

import pytest

from tests.support import free_port

__all__ = ["S3Server", "running_s3"]

KEY, SECRET, REGION = "servescope-test", "servescope-secret", "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str

    @property
    def options(self) -> dict:
        """fsspec storage options for s3fs (what AWS_* variables say to the CLI)."""
        return {"key": KEY, "secret": SECRET, "endpoint_url": self.endpoint,
                "client_kwargs": {"region_name": REGION}}

    @property
    def environment(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_DEFAULT_REGION": REGION}


@contextlib.contextmanager
def running_s3(bucket: str = "servescope") -> Iterator[S3Server]:
    """moto's ThreadedMotoServer on 127.0.0.1 with `bucket` created; stopped afterwards. Skips when moto[server] (the
    dev extra) is not installed."""
    moto_server = pytest.importorskip("moto.server", reason="moto[server] (the dev extra) is not installed")
    boto3 = pytest.importorskip("boto3")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)   # one line per request otherwise
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                     region_name=REGION).create_bucket(Bucket=bucket)
        yield S3Server(endpoint, bucket)
    finally:
        server.stop()
