"""common.files: what atomic_write replaces, and what check_writable lets through."""

import errno
import os
import select
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from common.files import atomic_write, check_writable, end_pipe

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def test_atomic_write_replaces_the_file_and_leaves_no_temporary_one(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with atomic_write(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_writes_through_a_symbolic_link(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "elsewhere" / "plot.png"
    target.write_bytes(b"old")
    link = tmp_path / "plot.png"
    link.symlink_to(target)
    with atomic_write(link) as f:
        f.write(b"new")
    assert link.is_symlink(), "the link was replaced by a file"
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(target.parent)) == ["plot.png"]


def test_atomic_write_writes_into_a_named_pipe_and_leaves_it_one(tmp_path, named_pipe):
    fifo, finish = named_pipe
    with atomic_write(fifo) as f:
        f.write(b"through the pipe")
    assert finish() == b"through the pipe"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "the named pipe was replaced by a file"
    assert os.listdir(tmp_path) == ["pipe"]


def test_atomic_write_lets_a_writer_seek_back_also_into_a_named_pipe(named_pipe):
    # np.savez seeks back to finish its zip, which /dev/null (--save-params /dev/null) allows
    # but gets wrong, and a pipe refuses: the data is gathered first, then written whole.
    fifo, finish = named_pipe
    with atomic_write(fifo) as f:
        f.write(b"xxxx")
        f.seek(0)
        f.write(b"ab")
    assert finish() == b"abxx"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's F_GETPIPE_SZ")
def test_atomic_write_waits_for_a_slow_reader_of_a_named_pipe(tmp_path):
    # More than the pipe holds: once it is full, the writer must wait for the reader, not fail.
    import fcntl
    import termios

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, but not reading yet
    try:
        capacity = fcntl.fcntl(reader, fcntl.F_GETPIPE_SZ)
        data = bytes(range(256)) * (capacity // 128)  # twice what it holds
        errors = []

        def write():
            try:
                with atomic_write(fifo) as f:
                    f.write(data)
            except OSError as e:
                errors.append(e)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        queued, deadline = bytearray(4), time.monotonic() + 60
        while writer.is_alive() and int.from_bytes(queued, sys.byteorder) < capacity:
            assert time.monotonic() < deadline, "the writer stalled before the pipe was full"
            time.sleep(0.001)
            fcntl.ioctl(reader, termios.FIONREAD, queued)  # until the pipe is full
        chunks = []
        while not chunks or chunks[-1]:  # to the end of the input: the writer closed the pipe
            assert time.monotonic() < deadline, "the writer stalled"
            if select.select([reader], [], [], 1)[0]:
                chunks.append(os.read(reader, 1 << 16))
        received = b"".join(chunks)
        writer.join(timeout=60)
    finally:
        os.close(reader)
    assert errors == []
    assert received == data


def test_atomic_write_leaves_the_file_as_it_was_on_an_error(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write(b"half")
        raise RuntimeError("stop")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_takes_a_name_as_long_as_the_file_system_allows(tmp_path):
    # Its temporary file has a name of its own, no longer than 32 characters of the real one more.
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    path = tmp_path / ("a" * (name_max - 4) + ".png")
    with atomic_write(path) as f:
        f.write(b"new")
    assert os.listdir(tmp_path) == [path.name]


class QuotaExceeded(OSError):
    """An OSError of a kind of its own, as a library might raise."""


def test_an_error_in_writing_names_the_file_asked_for_not_the_temporary_one(tmp_path):
    path = tmp_path / "plot.png"
    with pytest.raises(OSError) as error, atomic_write(path) as f:
        f.write(b"half")
        raise QuotaExceeded(errno.ENOSPC, "No space left on device")  # as a full disk's write
    assert str(error.value) == f"[Errno 28] No space left on device: '{path}'"
    assert type(error.value) is QuotaExceeded  # the error itself, named
    assert os.listdir(tmp_path) == []


def test_an_error_without_a_number_keeps_its_message(tmp_path):
    # Such as Pillow's OSError("encoder error -2 when writing image file") from savefig.
    with pytest.raises(OSError) as error, atomic_write(tmp_path / "plot.png") as f:
        f.write(b"half")
        raise OSError("encoder error -2 when writing image file")
    assert str(error.value) == "encoder error -2 when writing image file"
    assert os.listdir(tmp_path) == []


def test_a_replace_that_fails_names_the_file_asked_for(tmp_path, monkeypatch):
    # As for a target that is bind-mounted (EBUSY) or immutable (EPERM): os.replace names both
    # files, the first of them the temporary one, which is gone by the time it is printed.
    def busy(source, target):
        raise OSError(errno.EBUSY, "Device or resource busy", str(source), None, str(target))

    monkeypatch.setattr("common.files.os.replace", busy)
    path = tmp_path / "plot.png"
    with pytest.raises(OSError) as error, atomic_write(path) as f:
        f.write(b"new")
    assert str(error.value) == f"[Errno {errno.EBUSY}] Device or resource busy: '{path}'"
    assert os.listdir(tmp_path) == []


def test_an_error_in_closing_the_file_leaves_it_as_it_was(tmp_path, monkeypatch):
    # A full disk may refuse the last of the data only when it is flushed, at close: the short
    # temporary file must not have been put in place before that.
    class FullAtClose:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

        def write(self, data):
            return self.f.write(data)

        def close(self):
            if not self.f.closed:
                self.f.close()
                raise OSError(errno.ENOSPC, "No space left on device")

    real_open = open
    monkeypatch.setattr("common.files.open",
                        lambda *args, **kwargs: FullAtClose(real_open(*args, **kwargs)),
                        raising=False)
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    with pytest.raises(OSError, match="No space left on device"), atomic_write(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["plot.png"]


def test_a_temporary_file_that_cannot_be_made_is_named_as_the_file_asked_for(tmp_path,
                                                                              monkeypatch):
    # As open() says for a folder one may not write in: the name the user gave, not ours.
    def refused(file, mode):
        raise PermissionError(errno.EACCES, "Permission denied", str(file))

    monkeypatch.setattr("common.files.open", refused, raising=False)
    path = tmp_path / "plot.png"
    with pytest.raises(PermissionError) as error, atomic_write(path) as f:
        f.write(b"new")
    assert str(error.value) == f"[Errno {errno.EACCES}] Permission denied: '{path}'"


def test_ctrl_c_just_after_the_temporary_file_is_made_leaves_nothing(tmp_path, monkeypatch):
    def open_then_ctrl_c(*args, **kwargs):
        open(*args, **kwargs).close()
        raise KeyboardInterrupt

    monkeypatch.setattr("common.files.open", open_then_ctrl_c, raising=False)
    with pytest.raises(KeyboardInterrupt), atomic_write(tmp_path / "plot.png") as f:
        f.write(b"new")
    assert os.listdir(tmp_path) == []


def test_atomic_write_leaves_another_writers_temporary_file_alone(tmp_path, monkeypatch):
    # Its name has a random part; should it ever be taken, the file is not ours to remove.
    monkeypatch.setattr("common.files.secrets.token_hex", lambda n: "same")
    others = tmp_path / f".plot.png.{os.getpid()}-same.part"
    others.write_bytes(b"another writer's")
    with pytest.raises(FileExistsError) as error, atomic_write(tmp_path / "plot.png") as f:
        f.write(b"new")
    assert others.read_bytes() == b"another writer's"
    assert error.value.filename == str(others)  # what was taken, not plot.png


def test_a_file_exists_error_of_the_writer_leaves_no_temporary_file(tmp_path):
    # Only our own temporary name being taken spares it; any other FileExistsError is an error
    # like the rest.
    with pytest.raises(FileExistsError), atomic_write(tmp_path / "plot.png") as f:
        f.write(b"half")
        raise FileExistsError(errno.EEXIST, "File exists", str(tmp_path / "plots"))
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_an_error_in_writing_into_a_device_names_it():
    with pytest.raises(OSError) as error, atomic_write("/dev/full") as f:
        f.write(b"more than nothing")
    assert str(error.value) == "[Errno 28] No space left on device: '/dev/full'"


def test_check_writable_follows_a_link_into_a_missing_folder(tmp_path):
    link = tmp_path / "plot.png"
    link.symlink_to(tmp_path / "missing" / "plot.png")
    with pytest.raises(OSError, match="missing.* does not exist"):
        check_writable(link, "figure")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="no /proc here")
def test_check_writable_tries_the_target_folder_itself():
    # /proc is a folder in which no one, not even root, can create a file: the scratch file
    # must be tried there, not in some other folder such as the system's temporary one.
    with pytest.raises(OSError, match="cannot write the figure /proc/figure.png"):
        check_writable("/proc/figure.png", "figure")


@needs_fifo
@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anything")
def test_check_writable_refuses_a_named_pipe_it_may_not_write(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o444)
    with pytest.raises(OSError, match="permission denied"):
        check_writable(fifo, "figure")


@needs_fifo
def test_check_writable_accepts_a_named_pipe_without_opening_it(tmp_path, call_in_a_thread):
    # Opening it would wait for a reader, or end a reader's input when closed again.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    checker, errors = call_in_a_thread(lambda: check_writable(fifo, "figure"), catch=OSError,
                                       timeout=10)
    assert not checker.is_alive(), "it opened the pipe and waits for a reader"
    assert errors == []
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_check_writable_leaves_the_input_of_a_pipes_reader_alone(pipe_readers):
    # A writer that opens and closes the pipe would end a reader's input before the run writes
    # into it.
    (fifo,), ended = pipe_readers("pipe")
    check_writable(fifo, "figure")
    assert ended() == [False], "a writer came and went: the reader saw its input end"


@needs_fifo
def test_a_named_pipe_that_no_program_reads_is_an_error_not_a_wait(tmp_path, call_in_a_thread):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def write():
        with atomic_write(fifo) as f:
            f.write(b"nobody reads this")

    writer, errors = call_in_a_thread(write, catch=OSError, timeout=10)
    assert not writer.is_alive(), "it waited for a reader (and Ctrl-C couldn't end the wait)"
    assert [e.strerror for e in errors] == ["no program is reading from this named pipe"]


@pytest.mark.skipif(not (os.path.exists("/dev/tty") and shutil.which("setsid")),
                    reason="no /dev/tty or setsid here")
def test_a_device_that_refuses_with_enxio_is_not_called_a_named_pipe():
    # /dev/tty, in a session without a terminal (setsid), is a device that says ENXIO.
    code = ("from common.files import atomic_write\n"
            "with atomic_write('/dev/tty') as f:\n"
            "    f.write(b'x')\n")
    result = subprocess.run(["setsid", sys.executable, "-c", code], capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "OSError: [Errno 6] No such device or address: '/dev/tty'")


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets here")
def test_what_is_neither_a_file_nor_a_device_nor_a_pipe_is_refused(tmp_path):
    # A socket here; a disk (/dev/sda, a block device) would be refused the same way.
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(OSError, match="not a regular file, a character device or a named"):
            check_writable(path, "figure")
        with pytest.raises(OSError, match="not a regular file"), atomic_write(path) as f:
            f.write(b"x")
    assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_check_writable_refuses_a_folder(tmp_path):
    with pytest.raises(OSError, match="it is a folder"):
        check_writable(tmp_path, "figure")


def test_check_writable_names_a_file_in_the_way_of_the_folder(tmp_path):
    (tmp_path / "plot.png").write_bytes(b"a file, where the path wants a folder")
    with pytest.raises(OSError, match=r"plot\.png is not a folder$"):
        check_writable(tmp_path / "plot.png" / "p.npz", "parameters file")


def test_end_pipe_ends_the_input_of_a_pipes_reader(pipe_readers):
    (fifo,), ended = pipe_readers("pipe")
    end_pipe(fifo)
    assert ended() == [True]


@needs_fifo
def test_end_pipe_leaves_alone_what_no_one_waits_on(tmp_path, call_in_a_thread):
    fifo, file = tmp_path / "pipe", tmp_path / "p.npz"
    os.mkfifo(fifo)
    file.write_bytes(b"earlier")
    for path in (fifo, file, tmp_path / "missing"):  # a pipe without a reader: no wait
        thread, _ = call_in_a_thread(lambda path=path: end_pipe(path), timeout=10)
        assert not thread.is_alive(), f"end_pipe({path}) waits"
    assert file.read_bytes() == b"earlier"
    assert not (tmp_path / "missing").exists()
