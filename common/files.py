"""Writing files so that they appear whole or not at all.

Used for everything the chapter's scripts and the data loader write: the dataset cache, saved
parameters and figures.
Deliberately no fsync: a file cut short by a power cut is caught later by its checksum
(the dataset cache) or is simply written again (a figure).
"""

import contextlib
import errno
import io
import os
import secrets
import stat
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path):
    """Open `path` for writing in binary mode; it appears under its name only if the block succeeds.

    The data goes to a hidden temporary file in the same folder, which is renamed over `path`
    (atomically, by os.replace) when the block ends without an exception. On any error, and on
    Ctrl-C, the temporary file is removed and `path` is left as it was.

    A symbolic link is written through: the file it names is replaced, not the link. A character
    device such as /dev/null, or a named pipe, can't be replaced without destroying it: the data
    is gathered in memory (writers such as np.savez seek back in their file) and written into it
    whole when the block succeeds. Anything else that is not a regular file (a folder, a disk)
    raises OSError.

    An OSError in writing (a full disk, a pipe whose reader has gone) names `path`, the file
    asked for, rather than none or the temporary one.
    """
    path = Path(os.path.realpath(path))
    if is_device_or_pipe(path):
        data = io.BytesIO()
        yield data
        with _errors_naming(path):
            _write_into(path, data.getvalue())
        return
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    if path.exists() and not path.is_file():
        raise OSError(errno.EINVAL, "not a regular file, a character device or a named pipe",
                      str(path))
    # The start of the name is enough to tell whose it is, and leaves room for the rest within
    # the 255 bytes a name may have (32 characters are at most 128 bytes in UTF-8).
    tmp = path.with_name(f".{path.name[:32]}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        with _errors_naming(path, tmp), open(tmp, "xb") as f:
            yield f
            f.close()  # before os.replace, so that a full disk never puts a short file in place
            try:
                os.replace(tmp, path)
            except OSError as e:  # it names both; the file asked for is the one that matters
                raise OSError(e.errno, e.strerror, str(path)).with_traceback(
                    e.__traceback__) from None
    except BaseException as e:
        # Unless open() found the name taken (by another writer, whose file it is), even when
        # Ctrl-C came just after the file was created.
        if not (isinstance(e, FileExistsError) and e.filename == str(tmp)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


@contextlib.contextmanager
def _errors_naming(path, tmp=None):
    """An OSError raised within names `path` if it named no file (a full disk's write), or the
    temporary one (open refused, say, for want of permission). Not a FileExistsError (that
    the temporary name was taken is what it says), nor one without an error number, such as
    OSError("encoder error"): it would print as "[Errno None] None"."""
    try:
        yield
    except OSError as e:
        unnamed = e.filename is None
        temporary = tmp is not None and e.filename == str(tmp)
        if ((unnamed or temporary) and e.errno is not None
                and not isinstance(e, FileExistsError)):
            e.filename = str(path)  # the error itself, with its traceback and type
        raise


def is_device_or_pipe(path):
    """True for a character device (/dev/null) or a named pipe: written into, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def is_same_file(path, other):
    """True if writing `path` would replace `other` (links followed, as atomic_write follows
    them). A character device or named pipe is never replaced: --plot /dev/null with
    --save-params /dev/null is fine."""
    return os.path.realpath(path) == os.path.realpath(other) and not is_device_or_pipe(path)


def open_without_waiting(path, flags):
    """os.open(path, flags), also as an opener for open(), but a named pipe opens at once
    (O_NONBLOCK, where there is one) instead of waiting, maybe forever, for its other end."""
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def end_pipe(path):
    """If `path` is a named pipe, open and close it, writing nothing: a program waiting to read
    from it gets the end of its input instead of waiting forever. Anything else, or a pipe that
    no program reads, is left alone."""
    with contextlib.suppress(OSError):  # not there, or no reader: no one is waiting
        if stat.S_ISFIFO(os.stat(path).st_mode):
            os.close(open_without_waiting(path, os.O_WRONLY))


def _write_into(path, data):
    """Write `data` into a character device or named pipe. A pipe that no program is reading
    is an error at once (ENXIO), not a wait that Ctrl-C can't end."""
    try:
        fd = open_without_waiting(path, os.O_WRONLY)
    except OSError as e:
        if e.errno == errno.ENXIO and stat.S_ISFIFO(os.stat(path).st_mode):  # not /dev/tty's
            raise OSError(e.errno, "no program is reading from this named pipe",
                          str(path)) from None
        raise
    os.set_blocking(fd, True)  # the writes themselves may wait for the reader
    try:
        with open(fd, "wb") as f:
            f.write(data)
    except BrokenPipeError:
        raise BrokenPipeError(errno.EPIPE, "the program reading from this named pipe stopped "
                              "before the end", str(path)) from None


def check_writable(path, what="file"):
    """Raise OSError, naming `path`, unless a file can be created there.

    Call it before long work whose result goes to `path`, so that a typo fails in a second,
    not after the work is done. It really creates (and removes) a scratch file, since
    permission bits alone don't tell, e.g. for root or on a read-only file system.
    """
    target = Path(os.path.realpath(path))  # as atomic_write sees it
    folder = target.parent
    if not folder.is_dir():
        problem = (f"{folder} is not a folder" if folder.exists()
                   else f"the folder {folder} does not exist")
        raise OSError(f"cannot write the {what} {path}: {problem}")
    if target.is_dir():
        raise OSError(f"cannot write the {what} {path}: it is a folder")
    if is_device_or_pipe(target):  # written into, and not opened here: a reader would stop
        if not os.access(target, os.W_OK):
            raise OSError(f"cannot write the {what} {path}: permission denied")
        return
    if target.exists() and not target.is_file():
        raise OSError(f"cannot write the {what} {path}: it is not a regular file, a character "
                      f"device or a named pipe")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise OSError(f"cannot write the {what} {path}: {e.strerror or e}") from e
