"""The dashboard's own environment: `pip install .` (no extras) must be enough to run it against a remote server.

A fresh venv gets only the base dependencies (streamlit, requests, pillow, numpy, pandas, altair); the home page
then runs through AppTest and reports the unreachable server, and the client's CLI answers. TensorFlow must not
be importable there, which proves nothing on this path needs it. A gRPC address (grpc://) needs the `grpc` extra,
absent here: the CLI and the dashboard refuse it naming the extra to install.
"""
from __future__ import annotations

import os
import subprocess
import venv

import pytest

from tests.support import ROOT, free_port

pytestmark = pytest.mark.slow

HOME_PAGE_CHECK = """
import importlib.util, re, sys
assert importlib.util.find_spec("tensorflow") is None, "tensorflow is installed in the base environment"
from streamlit.testing.v1 import AppTest
app = AppTest.from_file("streamlit_app.py", default_timeout=60).run()
assert not app.exception, app.exception
print(re.sub(r"\\\\(.)", r"\\1", app.error[0].value).replace("\\u2060", ""))  # what a reader sees (escapes, word joiners)
"""


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory):
    target = tmp_path_factory.mktemp("base-venv")
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    # A plain (non-editable) install from a copy-free build: what `pip install .` gives a user. It downloads from
    # the package index, so a second attempt absorbs a dropped connection; what pip said is the failure's message.
    for _attempt in range(2):
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)],
                              timeout=900, capture_output=True, text=True)
        if done.returncode == 0:
            return python
    pytest.fail(f"pip install . failed twice (exit {done.returncode}): {done.stderr[-3000:]}")


def test_home_page_runs_without_tensorflow_and_reports_the_unreachable_server(base_venv):
    url = f"http://127.0.0.1:{free_port()}"
    env = dict(os.environ, TF_SERVING_URL=url)
    result = subprocess.run([str(base_venv), "-c", HOME_PAGE_CHECK], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"No TF Serving model server is reachable at {url}" in result.stdout


def test_client_cli_runs_in_the_base_environment(base_venv):
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run([str(base_venv), "-m", "client", "status", "--url", url, "--retries", "0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    # Nothing listens there: the CLI says so and exits 3 (server unreachable), rather than crashing on an import.
    assert result.returncode == 3, result.stderr[-3000:]
    assert url in result.stderr
    assert "Traceback" not in result.stderr


GRPC_REFUSED = ("is a gRPC address, which needs the grpc extra (grpcio, protobuf): pip install 'servescope[grpc]'")


def test_a_grpc_address_is_refused_naming_the_extra(base_venv):
    url = f"grpc://127.0.0.1:{free_port()}"
    result = subprocess.run([str(base_venv), "-m", "client", "status", "--url", url], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]  # a usage error, refused before anything is sent
    assert result.stderr == f"error: base_url '{url}': {GRPC_REFUSED}\n"
    page = subprocess.run([str(base_venv), "-c", HOME_PAGE_CHECK], cwd=ROOT, env=dict(os.environ, TF_SERVING_URL=url),
                          capture_output=True, text=True, timeout=300)
    assert page.returncode == 0, page.stderr[-3000:]
    assert page.stdout == f"TF_SERVING_URL: '{url}' {GRPC_REFUSED}\n"  # the page's error, as a reader sees it


def test_base_environment_has_only_the_dashboard_dependencies(base_venv):
    listing = subprocess.run([str(base_venv), "-m", "pip", "list", "--format=freeze"],
                             capture_output=True, text=True, check=True).stdout.lower()
    installed = {line.split("==")[0].replace("_", "-") for line in listing.splitlines()}
    assert {"streamlit", "requests", "pillow", "numpy", "pandas", "altair", "sqlalchemy", "psycopg"} <= installed
    assert not installed & {"tensorflow", "tensorflow-serving-api", "tqdm", "werkzeug", "torch", "keras", "grpcio"}
