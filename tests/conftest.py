"""Session-wide fixtures. Suite-specific fixtures live in each tests/<suite>/conftest.py."""
from __future__ import annotations

import fcntl
from typing import Callable, Iterator

import pytest
from PIL import ImageFile

from client.store.database import open_store
from tests.pg import postgres_server  # noqa: F401  (session fixture, for any_store)
from tests.support import PETS_CONFIG, SHARED_IMAGES, FakeServer, embedded_server, fake_servers, free_port


@pytest.fixture(scope="session")
def shared_images():
    if not SHARED_IMAGES.is_dir():
        pytest.skip(f"test photos not found at {SHARED_IMAGES} (a clone outside this workplace)")
    return SHARED_IMAGES


@pytest.fixture(scope="session")
def pets_server_url():
    """The embedded server serving the built pets model (versions 1 and 2, labels stable/canary)."""
    if not PETS_CONFIG.exists():
        pytest.fail(f"{PETS_CONFIG} is missing: run `python -m pets.build` (make test does)")
    with embedded_server([f"--model_config_file={PETS_CONFIG}"], wait_for_models={"pets": 2}) as url:
        yield url


@pytest.fixture
def one_browser_test_at_a_time(tmp_path_factory) -> Iterator[None]:
    """Held for the whole of one browser test (tests.dashboard.browser.test_browser.BROWSER_TESTS): pytest-xdist's
    workers take turns driving Chromium, so two browsers and two `streamlit run` never share the two cores within
    one test's expect() timeouts. A file lock in the directory every worker's temporary directory shares; held for
    one test at a time (never across the wait for the next test), so no worker can block another for good."""
    with open(tmp_path_factory.getbasetemp().parent / "browser-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    """start(handler, *, port=None, delay=0) -> a fake TF Serving (tests/support.py), stopped after the test."""
    with fake_servers() as start:
        yield start


@pytest.fixture
def pillow_loads(monkeypatch) -> list[tuple[int, int]]:
    """The size of every image Pillow decodes (ImageFile.load) while the test runs, in order."""
    sizes: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def counting(image):
        sizes.append(image.size)
        return original(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    return sizes


@pytest.fixture
def unreachable_url() -> str:
    """A local port with nothing listening (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    """A run store on each database it supports: a SQLite file, and a database on a live PostgreSQL."""
    url = str(tmp_path / "runs.db") if request.param == "sqlite" else \
        request.getfixturevalue("postgres_server").create_database()
    opened = open_store(url)
    yield opened
    opened.close()
