"""Writing files so that they appear whole or not at all.

Used for everything dlfs writes: the dataset cache, saved parameters and figures.
Deliberately no fsync: a file cut short by a power cut is caught later by its checksum
(the dataset cache) or is simply written again (a figure).
"""

import contextlib
import io
import os
import secrets
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path):
    """Open `path` for writing in binary mode; it appears under its name only if the block succeeds.

    The data goes to a hidden temporary file in the same folder, which is renamed over `path`
    (atomically, by os.replace) when the block ends without an exception. On any error, and on
    Ctrl-C, the temporary file is removed and `path` is left as it was.

    A symbolic link is written through: the file it names is replaced, not the link. What is
    not a regular file, such as /dev/null or a named pipe, can't be replaced without destroying
    it: the data is gathered in memory (writers such as np.savez seek back in their file) and
    written into it whole when the block succeeds.
    """
    path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        data = io.BytesIO()
        yield data
        with open(path, "wb") as f:
            f.write(data.getvalue())
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "xb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_writable(path, what="file"):
    """Raise OSError, naming `path`, unless a file can be created there.

    Call it before long work whose result goes to `path`, so that a typo fails in a second,
    not after the work is done. It really creates (and removes) a scratch file, since
    permission bits alone don't tell, e.g. for root or on a read-only file system.
    """
    target = Path(os.path.realpath(path))  # as atomic_write sees it
    folder = target.parent
    if not folder.is_dir():
        raise OSError(f"cannot write the {what} {path}: the folder {folder} does not exist")
    if target.is_dir():
        raise OSError(f"cannot write the {what} {path}: it is a folder")
    if target.exists() and not target.is_file():  # /dev/null, a named pipe: written directly
        if not os.access(target, os.W_OK):
            raise OSError(f"cannot write the {what} {path}: permission denied")
        return
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise OSError(f"cannot write the {what} {path}: {e.strerror or e}") from e
