"""Shared fixtures: keep every test's data out of the user's cache, and find real MNIST for the
tests that need it."""

import os
import shutil
from pathlib import Path

import pytest

# Beside a CI clone (and this checkout) lies ../shared with the four real MNIST files. The library
# never looks there; tests copy them into a temporary DLFS_DATA_HOME.
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


@pytest.fixture(autouse=True)
def _data_home_of_its_own(tmp_path, monkeypatch):
    """Every test starts with an empty data home; those that need real MNIST use mnist_home."""
    monkeypatch.setenv("DLFS_DATA_HOME", str(tmp_path / "data-home"))


@pytest.fixture(scope="session")
def mnist_home(tmp_path_factory):
    """A DLFS_DATA_HOME holding real, checked MNIST, for the tests that train on it.

    From ../shared/datasets/mnist when it is there (CI). Otherwise (a user's clone) from the
    loader's normal sources and cache; the test is skipped, saying why, if none of them works.
    """
    from dataset import DatasetUnavailableError, data_home, load_mnist

    if SHARED_MNIST.is_dir():
        home = tmp_path_factory.mktemp("mnist-home")
        (home / "mnist").mkdir()
        for path in SHARED_MNIST.glob("*-ubyte.gz"):
            shutil.copy(path, home / "mnist" / path.name)
    else:
        home = data_home()
    previous = os.environ.get("DLFS_DATA_HOME")
    os.environ["DLFS_DATA_HOME"] = str(home)
    try:
        load_mnist()  # check and cache it once for all the tests that use it
    except DatasetUnavailableError as e:
        pytest.skip(f"real MNIST is not available here: {e}")
    finally:
        if previous is None:
            del os.environ["DLFS_DATA_HOME"]
        else:
            os.environ["DLFS_DATA_HOME"] = previous
    return home
