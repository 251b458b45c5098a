"""Shared fixtures: an empty data home for each test, real MNIST for the tests that need it,
a call made in a thread that can't hang its test, and a named pipe with a reader.

Each test runs in a new temporary folder, with DLFS_DATA_HOME set to one inside it, so whatever
it loads, caches or writes by default goes there. The exception is mnist_home on a machine without
../shared: it is then the user's own data home, and loading MNIST into it writes the user's cache
(see mnist_home)."""

import os
import select
import shutil
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

# Beside a CI clone (and this checkout) lies ../shared with the four real MNIST files. The library
# never looks there; tests copy them into a temporary DLFS_DATA_HOME.
CHECKOUT = Path(__file__).resolve().parents[1]
SHARED_MNIST = CHECKOUT.parent / "shared" / "datasets" / "mnist"


@pytest.fixture(autouse=True)
def _data_home_of_its_own(tmp_path, monkeypatch):
    """Every test starts with an empty data home; those that need real MNIST use mnist_home."""
    monkeypatch.setenv("DLFS_DATA_HOME", str(tmp_path / "data-home"))


@pytest.fixture(autouse=True)
def _in_a_folder_of_its_own(tmp_path, monkeypatch):
    """Every test runs in its temporary folder, so that a script's default output
    (./train_neuralnet.png) is checked and written there, also from a read-only checkout.

    The programs a test starts (python -m ch04...) import this checkout's code, then, as they
    would from its folder, and not another copy that may be installed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])))


@pytest.fixture(autouse=True)
def _ctrl_c_raises_keyboard_interrupt():
    """Python's own Ctrl-C handling, also when pytest was started with SIGINT ignored (as a
    background job of a shell script is): the tests of Ctrl-C need it, and their children too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True)
def _no_proxy_for_local_servers(monkeypatch):
    """The tests' HTTP servers are on 127.0.0.1: a proxy set for the machine can't reach them."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "*")


@pytest.fixture(autouse=True)
def _numpys_global_random_state():
    """Tests that seed NumPy's global state, as the book does, leave it as they found it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    """pyplot keeps every figure it made until it is closed, and warns at 20 (an error here)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(scope="session")
def mnist_home(tmp_path_factory):
    """A DLFS_DATA_HOME holding real, checked MNIST, for the tests that train on it.

    With ../shared/datasets/mnist (CI), its four .gz files are copied to a temporary folder,
    where load_mnist caches them (55 MB of .npy files). Without it (a user's clone), it is the
    user's own data home, data_home() as the environment gives it: this session fixture is set
    up before each test's own data home. load_mnist then uses the cache there, or, when that is
    missing or damaged, fetches MNIST from the usual sources and writes the four .npy files
    (55 MB) to data_home()/mnist/, as `python -m dataset.mnist` would. The tests that use it
    only read it. They are skipped, saying why, when no source has MNIST.
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


@pytest.fixture
def call_in_a_thread():
    """call_in_a_thread(call, catch=(), timeout=60) runs call() in a daemon thread and waits for
    it at most timeout seconds → (thread, caught): the thread, still alive if the call is
    waiting, and the exceptions of the types `catch` that it raised. A call that waits forever
    then fails its test instead of hanging it."""
    def run(call, catch=(), timeout=60):
        caught = []

        def target():
            try:
                call()
            except catch as e:
                caught.append(e)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(timeout=timeout)
        return thread, caught

    return run


@pytest.fixture
def named_pipe(tmp_path):
    """A new named pipe that a reader has open: (path, finish), where finish() returns the bytes
    written into it. Skips where there are no named pipes."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # The reader opens it first (without waiting for a writer), and a writer of ours holds it
    # open too, so that the reader sees the end only when finish() closes that one.
    read_end = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    held_open = os.open(fifo, os.O_WRONLY)
    os.set_blocking(read_end, True)
    received = []
    reader = threading.Thread(target=lambda: received.append(_read_all(read_end)), daemon=True)
    reader.start()

    def finish():
        os.close(held_open)
        reader.join(timeout=60)
        assert received, "the reader did not finish"
        return received[0]

    yield fifo, finish
    if reader.is_alive():  # the test failed before finish()
        os.close(held_open)
        reader.join(timeout=60)


@pytest.fixture
def pipe_readers(tmp_path):
    """make(*names) → (paths, ended): new named pipes in tmp_path, each with a reader that has it
    open already, as a `cat` started before the run would; ended() tells for each pipe whether a
    writer came and went since (Linux's poll() says POLLHUP), which ends such a reader's input.
    Skips where poll() doesn't tell."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux's poll() tells")
    readers = []

    def make(*names):
        paths = [tmp_path / name for name in names]
        for path in paths:
            os.mkfifo(path)
            readers.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK))

        def ended():
            watch = select.poll()
            for reader in readers:
                watch.register(reader, select.POLLIN)
            events = dict(watch.poll(0))
            return [bool(events.get(reader, 0) & select.POLLHUP) for reader in readers]

        return paths, ended

    yield make
    for reader in readers:
        os.close(reader)


def _read_all(fd):
    with open(fd, "rb") as f:
        return f.read()
