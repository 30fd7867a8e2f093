"""The skew finder's trained twins of tests/conventions.py (tests/dashboard/skew/twins.py), built once per session
and served by `python -m serving`, with their correct profiles written beside them."""
from __future__ import annotations

import pytest

from tests.support import SHARED_TRAIN, embedded_server


@pytest.fixture(scope="session")
def twins(tmp_path_factory, request):
    """(models folder, {name: correct profile path}) of every convention's twin."""
    pytest.importorskip("tensorflow")
    if not (SHARED_TRAIN / "manifest.csv").exists():
        pytest.skip(f"training photos not found at {SHARED_TRAIN}: the twins' head is trained on them")
    from tests import conventions
    from tests.dashboard.skew import twins as builder
    base = tmp_path_factory.mktemp("skew_twins")
    cache = getattr(request.config, "cache", None)
    (base / "models.config").write_text(builder.build_twins(base, SHARED_TRAIN, cache=cache))
    folder = base / "profiles"
    folder.mkdir()
    return base, {c.name: c.write_profile(folder) for c in conventions.CONVENTIONS}


@pytest.fixture(scope="session")
def twins_url(twins):
    from tests.dashboard.skew.twins import NAMES
    base, _ = twins
    with embedded_server([f"--model_config_file={base / 'models.config'}"],
                         wait_for_models={name: 1 for name in NAMES}, timeout=600) as url:
        yield url
