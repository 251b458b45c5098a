"""The commands' argparse types, and how every command ends: with main()'s status, and quietly
when its output's reader goes away."""

import argparse
import gc
import os
import select
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

from common.cli import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    interrupts_deferred,
    positive,
    random_seed,
    run_main,
    sigterm_as_ctrl_c,
)


@pytest.mark.parametrize("status", [0, 2])
def test_run_main_exits_with_mains_status(status):
    with pytest.raises(SystemExit) as exit_info:
        run_main(lambda: status)
    assert exit_info.value.code == status


def test_run_main_handles_sigterm_only_while_it_runs_and_only_if_no_one_else_does():
    def sigterm_during_main():
        return 0 if signal.getsignal(signal.SIGTERM) is sigterm_as_ctrl_c else 3

    def callers_handler(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with pytest.raises(SystemExit) as exit_info:  # as Ctrl-C while main runs...
            run_main(sigterm_during_main)
        assert exit_info.value.code == 0
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # ...and as it was after
        signal.signal(signal.SIGTERM, callers_handler)
        with pytest.raises(SystemExit) as exit_info:  # a caller's own handler is left alone
            run_main(lambda: 0 if signal.getsignal(signal.SIGTERM) is callers_handler else 3)
        assert exit_info.value.code == 0
        assert signal.getsignal(signal.SIGTERM) is callers_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_run_main_works_outside_the_main_thread(call_in_a_thread):
    # Python handles signals only in the main thread: run_main must not try to there.
    _, ended = call_in_a_thread(lambda: run_main(lambda: 3), catch=SystemExit)
    assert [e.code for e in ended] == [3]


def test_a_closed_stdout_ends_the_program_quietly_with_status_141():
    # More than a pipe holds (64 KB), so the child is still writing when the reader leaves.
    code = ("from common.cli import run_main\n"
            "def main():\n"
            "    for _ in range(1000):\n"
            "        print('x' * 1000)\n"
            "    return 0\n"
            "run_main(main)")
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout.readline() == "x" * 1000 + "\n"
        process.stdout.close()  # what `| head -1` does after its line
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == EXIT_BROKEN_PIPE == 141
    assert stderr == ""  # no BrokenPipeError traceback, not even at exit


def test_output_still_buffered_when_main_returns_into_a_closed_pipe_ends_quietly_with_141(
        tmp_path):
    # One short line, buffered as usual, whose reader left before it was written: it fails only
    # when flushed, which must not be Python's own flush at exit (a traceback and status 120).
    code = ("import sys\n"
            "from common.cli import run_main\n"
            "def main():\n"
            "    sys.stdin.readline()\n"  # until the reader has gone
            "    print('x')\n"
            "    return 0\n"
            "run_main(main)")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    with subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as process:
        process.stdout.close()
        process.stdin.write("go\n")
        process.stdin.close()
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert stderr == ""


def message_then_work(tmp_path, stderr, ending):
    """Start a command whose main(), once the test has closed the reading end of its stderr (a
    pipe, or stdout's with stderr=subprocess.STDOUT), prints a message there, then saves its
    work to work.txt, prints "done" and ends with `ending`. → (status, stdout or None)."""
    code = ("import sys\n"
            "from common.cli import run_main\n"
            "def main():\n"
            "    sys.stdin.readline()\n"  # until stderr's reader has gone
            "    print('a message', file=sys.stderr)\n"
            "    with open('work.txt', 'w') as f:\n"
            "        f.write('saved')\n"
            "    print('done')\n"
            f"    {ending}\n"  # ...and run_main's own "interrupted" goes nowhere too
            "run_main(main)")
    with subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=stderr, text=True) as process:
        (process.stderr or process.stdout).close()
        process.stdin.write("go\n")
        process.stdin.close()
        out = None if process.stdout.closed else process.stdout.read()
        return process.wait(timeout=60), out


@pytest.mark.parametrize("ending, status", [("return 3", 3), ("raise KeyboardInterrupt", 130)])
def test_a_message_that_stderr_cant_take_is_dropped_and_the_work_goes_on(tmp_path, ending,
                                                                         status):
    # stderr's reader has gone (`2>&1 >out.txt | true`): its broken pipe is not stdout's (141),
    # and must not stop the work before it is saved, nor change the status main() gives.
    assert message_then_work(tmp_path, subprocess.PIPE, ending) == (status, "done\n")
    assert (tmp_path / "work.txt").read_text() == "saved"


def test_a_message_into_stdouts_pipe_whose_reader_has_gone_ends_the_program_with_141(tmp_path):
    # `2>&1 | head`: stderr is stdout's pipe, so its reader that has gone is stdout's: the run
    # ends there, as at stdout's next line, and saves nothing more.
    assert message_then_work(tmp_path, subprocess.STDOUT, "return 3") == (141, None)
    assert not (tmp_path / "work.txt").exists()


def test_run_mains_interrupted_into_stdouts_pipe_whose_reader_has_gone_keeps_status_130(
        tmp_path):
    # Ctrl-C with `2>&1 | head` gone: "interrupted" goes nowhere, and the status says Ctrl-C.
    code = ("import sys\n"
            "from common.cli import run_main\n"
            "def main():\n"
            "    sys.stdin.readline()\n"  # until the reader has gone
            "    raise KeyboardInterrupt\n"
            "run_main(main)")
    with subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        process.stdout.close()
        process.stdin.write("go\n")
        process.stdin.close()
        assert process.wait(timeout=60) == 130


@pytest.mark.parametrize("command, stderr", [
    # A command shows where a first load found the data, as plain lines on stderr...
    ("from common.cli import run_main\n"
     "run_main(lambda: logging.getLogger('dataset._store').info('a: checked, from b') or 0)",
     "a: checked, from b\n"),
    # ...but the library itself, as used in a REPL, prints nothing below a warning,
    ("import dataset.mnist\n"
     "logging.getLogger('dataset._store').info('a: checked, from b')\n"
     "logging.getLogger('dataset._store').warning('cache c is unusable')", "cache c is unusable\n"),
    # ...nor after a command was run in the same program, as IPython's %run does,
    ("import contextlib\nfrom common.cli import run_main\n"
     "with contextlib.suppress(SystemExit):\n"
     "    run_main(lambda: logging.getLogger('dataset._store').info('during') or 0)\n"
     "logging.getLogger('dataset._store').info('after')", "during\n"),
    # ...and a program that set up logging itself sees each line once, whatever its level.
    ("logging.basicConfig(level=logging.INFO)\n"
     "from common.cli import run_main\n"
     "run_main(lambda: logging.getLogger('dataset._store').info('a: checked, from b') or 0)",
     "a: checked, from b\n"),
    ("logging.basicConfig()\n"
     "from common.cli import run_main\n"
     "run_main(lambda: logging.getLogger('dataset._store').info('a: checked, from b') or 0)",
     "a: checked, from b\n"),
    # After a command, such a program's logging is as it was: warnings its way, no news,
    ("logging.basicConfig()\nimport contextlib\nfrom common.cli import run_main\n"
     "with contextlib.suppress(SystemExit):\n"
     "    run_main(lambda: logging.getLogger('dataset._store').info('during') or 0)\n"
     "logging.getLogger('dataset._store').info('news after')\n"
     "logging.getLogger('dataset._store').warning('a warning after')",
     "during\nWARNING:dataset._store:a warning after\n"),
    # ...a command run twice in one program shows each line once each time,
    ("import contextlib\nfrom common.cli import run_main\n"
     "for run in ('first', 'second'):\n"
     "    with contextlib.suppress(SystemExit):\n"
     "        run_main(lambda: logging.getLogger('dataset._store').info(run) or 0)",
     "first\nsecond\n"),
    # ...and the loader's DEBUG lines (each source it asks, a file not in a folder) are not news.
    ("from common.cli import run_main\n"
     "def main():\n"
     "    logging.getLogger('dataset._store').debug('fetching a from b')\n"
     "    logging.getLogger('dataset._store').info('a: checked, from b')\n"
     "    return 0\n"
     "run_main(main)", "a: checked, from b\n"),
])
def test_commands_show_the_data_loaders_news_and_the_library_does_not(command, stderr):
    result = subprocess.run([sys.executable, "-c", "import logging\n" + command],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, stderr)


def test_stdout_is_as_strict_after_run_main_as_before():
    code = ("import contextlib, sys\nfrom common.cli import run_main\n"
            "with contextlib.suppress(SystemExit):\n"
            "    run_main(lambda: 0)\n"
            "print(sys.stdout.errors)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, PYTHONIOENCODING="ascii"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "strict\n", "")


@pytest.mark.parametrize("encoding, name, printed", [
    # A name stdout's encoding can't show is printed with escapes, not a traceback...
    ("ascii", r"r\xe9sum\xe9.png", rb"r\xe9sum\xe9.png"),
    # ...and one that Python read from undecodable bytes is printed as those bytes, as before.
    ("utf-8:surrogateescape", r"caf\udce9.png", b"caf\xe9.png"),
])
def test_names_stdout_cannot_encode_are_printed_without_a_traceback(encoding, name, printed):
    code = f"from common.cli import run_main\nrun_main(lambda: print('saved to {name}'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                            env=dict(os.environ, PYTHONIOENCODING=encoding))
    assert (result.returncode, result.stdout, result.stderr) == (
        0, b"saved to " + printed + b"\n", b"")


@pytest.mark.skipif(os.name != "posix", reason="needs a shell's >&-")
@pytest.mark.parametrize("closed", [">&-", "2>&-", ">&- 2>&-"])
def test_a_command_started_with_stdout_or_stderr_closed_runs_without_a_traceback(
        tmp_path, closed):
    code = ("import sys\nfrom common.cli import run_main\n"
            "run_main(lambda: print('x') or sys.stderr.isatty() or open('done', 'w').close())")
    # -W error: the stand-in is closed too (no "unclosed file" ResourceWarning).
    result = subprocess.run(["sh", "-c", f'"{sys.executable}" -W error -c "{code}" {closed}'],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "done").exists()  # main ran to its end


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("error, status, message", [
    ("KeyboardInterrupt", EXIT_INTERRUPTED, "interrupted\n"),
    ("PermissionError(13, 'Permission denied', '/etc/plot.png')", 1,
     "error: Permission denied: /etc/plot.png\n"),
], ids=["ctrl-c", "os-error"])
def test_an_end_with_output_to_a_full_disk_gives_its_own_line_and_status(error, status, message):
    # Buffered, as usual: the line is still waiting at the end, and a full disk refuses it too;
    # it is let go quietly, and the run ends as it would have.
    code = ("from common.cli import run_main\n"
            "def main():\n"
            "    print('a line that a full disk will refuse')\n"
            f"    raise {error}\n"
            "run_main(main)")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-c", code], stdout=full, env=env,
                                stderr=subprocess.PIPE, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (status, message)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("script", ["ch04.gradient_1d", "ch04.gradient_method"])
def test_output_to_a_full_disk_ends_with_one_line_and_status_1(tmp_path, script):
    with open("/dev/full", "w") as full:
        process = subprocess.run(
            [sys.executable, "-m", script, "--no-show", "--plot", str(tmp_path / "plot.png")],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert process.returncode == 1
    assert process.stderr == "error: No space left on device\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's poll() tells")
def test_a_figure_whose_pipe_reader_leaves_is_an_error_naming_it_not_a_quiet_141(tmp_path):
    # Only stdout's reader leaving means `| head`: a file's is an error like a full disk.
    fifo = tmp_path / "plot.png"
    os.mkfifo(fifo)
    code = ("from common.cli import run_main\n"
            "from common.files import atomic_write\n"
            "def main():\n"
            "    with atomic_write('plot.png') as f:\n"
            "        f.write(b'x' * 200_000)\n"  # more than a pipe holds
            "    return 0\n"
            "run_main(main)")
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # first: a pipe without one is refused
    try:
        with subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stderr=subprocess.PIPE,
                              text=True) as process:
            watch = select.poll()
            watch.register(reader, select.POLLIN)
            assert watch.poll(60_000), "nothing was written into the pipe"
            os.read(reader, 10)
            os.close(reader)
            reader = None
            stderr = process.stderr.read()
    finally:
        if reader is not None:
            os.close(reader)
    assert (process.returncode, stderr) == (
        1, f"error: the program reading from this named pipe stopped before the end: {fifo}\n")


def test_an_os_error_from_main_is_one_line_naming_the_file(capsys):
    def main():
        raise PermissionError(13, "Permission denied", "/etc/plot.png")

    with pytest.raises(SystemExit) as exit_info:
        run_main(main)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: Permission denied: /etc/plot.png\n"


def test_ctrl_c_ends_a_command_with_one_line_and_status_130(capsys):
    def main():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_info:
        run_main(main)
    assert exit_info.value.code == EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(SIGTERM) ends a process at once")
def test_sigterm_in_the_middle_of_a_write_leaves_no_temporary_file(tmp_path):
    # What `timeout` or `kill` does to a download: the half-written file must go, as on Ctrl-C.
    code = ("import os, signal, time\n"
            "from common.cli import run_main\n"
            "from common.files import atomic_write\n"
            "def main():\n"
            "    with atomic_write('data.npy') as f:\n"
            "        f.write(b'half')\n"
            "        f.flush()\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "        time.sleep(60)\n"
            "run_main(main)")
    process = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
    assert (process.returncode, process.stderr) == (130, "interrupted\n")
    assert os.listdir(tmp_path) == []


def test_interrupts_deferred_outside_the_main_thread_leaves_signals_alone(call_in_a_thread):
    # Python handles signals only in the main thread: a thread's block runs with nothing noted.
    noted = []

    def in_a_block():
        with interrupts_deferred() as interrupts:
            noted.append(interrupts)

    _, errors = call_in_a_thread(in_a_block, catch=ValueError)
    assert (errors, noted) == ([], [[]])


@pytest.mark.parametrize("kind, text, value", [(int, "3", 3), (float, "0.1", 0.1),
                                               (float, "1e-3", 1e-3)])
def test_positive_accepts_positive_numbers(kind, text, value):
    assert positive(kind)(text) == value


def test_positive_int_takes_any_size():  # Python's ints have no inf to refuse
    assert positive(int)("1" + "0" * 400) == 10**400


@pytest.mark.parametrize("kind, text, message", [
    (int, "0", "must be a positive int, got 0"),
    (int, "-2", "must be a positive int, got -2"),
    (int, "1.5", "expected a positive int, got '1.5'"),
    (float, "0", "must be a positive float, got 0"),
    (float, "inf", "must be a finite number, got inf"),
    (float, "1e400", "must be a finite number, got 1e400"),  # too large: read as inf
    (float, "-inf", "must be a positive float, got -inf"),  # not "finite": that is not enough
    (float, "-1e400", "must be a positive float, got -1e400"),
    (float, "nan", "must be a positive float, got nan"),
    (float, "fast", "expected a positive float, got 'fast'"),
])
def test_positive_rejects_other_values_naming_them(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=f"^{message}$"):
        positive(kind)(text)


def test_random_seed_takes_integers_from_0():
    assert random_seed("0") == 0
    assert random_seed("4294967295") == 2**32 - 1
    with pytest.raises(argparse.ArgumentTypeError, match="^must be 0 or more, got -1$"):
        random_seed("-1")
    with pytest.raises(argparse.ArgumentTypeError, match="^expected an integer seed, got '1.5'$"):
        random_seed("1.5")
    with pytest.raises(argparse.ArgumentTypeError,
                       match=r"^must be less than 2\*\*32 = 4294967296, got 4294967296$"):
        random_seed("4294967296")  # np.random.seed, in the benchmark's book-style run, refuses it


@pytest.mark.parametrize("args, message", [
    (["--rounds", "0"], "argument --rounds: must be a positive int, got 0"),
    (["--numerical-repeats", "-1"], "argument --numerical-repeats: must be a positive int, got -1"),
    (["--seed", "-1"], "argument --seed: must be 0 or more, got -1"),
])
def test_the_benchmark_rejects_bad_values_before_running_anything(capsys, args, message):
    from benchmarks import train

    with pytest.raises(SystemExit) as exc:
        train.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_the_benchmark_reaps_each_run_itself_without_a_resource_warning(tmp_path):
    from benchmarks import train

    # Popen would warn "subprocess ... is still running" when it is collected, had the
    # benchmark's os.wait4 reaped the child without telling it.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wall, rss, stdout = train.timed_run(["-c", "print('done')"], tmp_path, dict(os.environ))
        gc.collect()
    assert stdout == "done\n" and wall > 0 and rss > 0
    assert [w.message for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_the_benchmark_names_the_status_and_the_error_of_a_failed_run(tmp_path):
    from benchmarks import train

    with pytest.raises(ChildProcessError, match="failed with status 3:\nthe reason\n$"):
        train.timed_run(["-c", "import sys; print('the reason', file=sys.stderr); sys.exit(3)"],
                        tmp_path, dict(os.environ))


def test_the_benchmark_without_mnist_says_why_and_exits_1(tmp_path, capsys, monkeypatch):
    from benchmarks import train

    def fetch_fails(args, **kwargs):  # python -m dataset.mnist, on a machine without MNIST
        assert args[1:] == ["-m", "dataset.mnist"]
        return subprocess.CompletedProcess(args, 1, "", "no source had train-images-idx3-ubyte\n")

    monkeypatch.setattr(train.subprocess, "run", fetch_fails)
    monkeypatch.setattr(train, "benchmark_training", lambda *a: pytest.fail("ran anyway"))
    assert train.main(["--rounds", "1"]) == 1
    assert capsys.readouterr().err == "no source had train-images-idx3-ubyte\n"


def test_the_benchmark_starts_each_round_with_the_next_contender(monkeypatch, capsys):
    from benchmarks import train

    started = []

    def fake_run(args, cwd, env):
        started.append(args[1])
        return 1.0, 100.0, "train acc, test acc | 0.5, 0.5\n"

    monkeypatch.setattr(train, "timed_run", fake_run)
    train.benchmark_training(3, 0, with_torch=True)
    ours, book, torch = "ch04.train_neuralnet", "benchmarks.book_style", "benchmarks.torch_style"
    assert started == [ours, book, torch, book, torch, ours, torch, ours, book]


def test_the_benchmark_says_when_it_cannot_time_pytorch(monkeypatch, capsys):
    from benchmarks import train

    def run(args, **kwargs):  # python -m dataset.mnist works; python -c "import torch" fails
        if args[1:] == ["-c", "import torch"]:
            return subprocess.CompletedProcess(args, 1, "", "Traceback\nImportError: libtorch\n")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(train.subprocess, "run", run)
    monkeypatch.setattr(train, "timed_run",
                        lambda args, cwd, env: (1.0, 100.0, "train acc, test acc | 0.5, 0.5\n"))
    monkeypatch.setattr(train, "sgemm_gflops", lambda m, k, n: 100.0)
    assert train.main(["--rounds", "1", "--skip-numerical"]) == 0
    out = capsys.readouterr().out
    assert "The book's run, 1 round:" in out
    assert "PyTorch is not timed: `import torch` fails here (ImportError: libtorch)." in out
    assert "| PyTorch" not in out
    assert "largest gap 0.00 points (1 round, 1 epochs)" in out


@pytest.mark.parametrize("error, status, verdict", [
    (5e-9, 0, "within"), (2e-6, 1, "NOT within"), (float("nan"), 1, "NOT within")])
def test_the_benchmark_fails_when_the_fast_numerical_gradient_is_wrong(monkeypatch, capsys,
                                                                       error, status, verdict):
    from benchmarks import train

    monkeypatch.setattr(train.subprocess, "run",
                        lambda args, **kwargs: subprocess.CompletedProcess(args, 0, "", ""))
    monkeypatch.setattr(train, "benchmark_numerical_gradient",
                        lambda repeats: ({"fast": 0.5, "plain": 14.0}, error))
    monkeypatch.setattr(train, "seconds_per_iteration", lambda grad, iters: 0.001)

    def no_load_average():
        raise OSError("no load average here")

    monkeypatch.setattr(train.os, "getloadavg", no_load_average)  # it goes without
    assert train.main(["--skip-training", "--numerical-repeats", "1"]) == status
    out = capsys.readouterr().out
    assert "batch 100, float64, 1 run each:" in out
    assert f"largest entry: {error:.1e}, {verdict} the 1e-6 asked for." in out


@pytest.mark.parametrize("where", ["W1", "b2"])
def test_the_benchmarks_largest_difference_is_nan_if_any_is(where):
    from benchmarks.train import largest_difference

    plain = {"W1": np.ones((2, 2)), "b2": np.ones(2)}
    fast = {name: value + 1e-9 for name, value in plain.items()}
    assert largest_difference(fast, plain) == pytest.approx(1e-9)
    fast[where][0] = np.nan
    assert np.isnan(largest_difference(fast, plain))


def test_the_benchmarks_largest_difference_of_an_all_zero_gradient_is_absolute():
    from benchmarks.train import largest_difference

    plain = {"W1": np.ones((2, 2)), "b1": np.zeros(2)}  # an input that is 0 in every example
    assert largest_difference(plain, plain) == 0
    assert largest_difference({"W1": plain["W1"], "b1": np.full(2, 1e-9)}, plain) == 1e-9


def test_the_pytorch_contender_without_pytorch_says_so_in_one_line(tmp_path):
    (tmp_path / "torch").mkdir()
    # A broken install: not even an ImportError.
    (tmp_path / "torch" / "__init__.py").write_text("raise RuntimeError('no torch here')\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def torch_style(*args):
        return subprocess.run([sys.executable, "-m", "benchmarks.torch_style", *args],
                              capture_output=True, text=True, timeout=60, cwd=root,
                              env=dict(os.environ, PYTHONPATH=str(tmp_path)))

    result = torch_style("--help")  # needs no PyTorch
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: python -m benchmarks.torch_style")
    result = torch_style("--iters", "1")
    assert (result.returncode, result.stderr) == (
        1, "this contender needs PyTorch, which fails to import here (no torch here); it is "
           "never a dependency of dlfs: `pip install torch` to time it\n")


def test_the_benchmark_tells_why_torch_fails_to_import(tmp_path, monkeypatch):
    from benchmarks.train import why_torch_fails

    (tmp_path / "torch").mkdir()  # a broken install, which also writes bytes that aren't UTF-8
    (tmp_path / "torch" / "__init__.py").write_text(
        "import os\nos.write(2, b'\\xe9\\xff\\n')\nraise ImportError('libtorch_cpu.so: missing')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert why_torch_fails() == "ImportError: libtorch_cpu.so: missing"


@pytest.mark.parametrize("script", ["ch04.gradient_1d", "ch04.train_neuralnet"])
@pytest.mark.parametrize("backend, message", [
    ("foo", "matplotlib cannot start: Key backend: 'foo' is not a valid value for backend"),
    ("module://no_such.backend", "MPLBACKEND=module://no_such.backend: its module cannot be "
                                 "imported (ModuleNotFoundError: No module named 'no_such'); "
                                 "install it, or unset MPLBACKEND"),
    ("module://broken_backend", "MPLBACKEND=module://broken_backend: its module cannot be imported "
                                "(RuntimeError: broken); install it, or unset MPLBACKEND"),
])
def test_a_backend_matplotlib_cannot_use_is_an_error_before_any_work(tmp_path, script, backend,
                                                                     message):
    # Before: a traceback after the work (the whole training run), and nothing saved.
    (tmp_path / "broken_backend.py").write_text("raise RuntimeError('broken')\n")
    process = subprocess.run(
        [sys.executable, "-m", script, "--plot", str(tmp_path / "plot.png")],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, MPLBACKEND=backend, DLFS_DATA_HOME=str(tmp_path / "no data"),
                 PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ["PYTHONPATH"]])))
    assert process.returncode == 2
    assert process.stderr.splitlines()[-1].startswith(f"python -m {script}: error: {message}")
    assert process.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken_backend.py"]


@pytest.mark.parametrize("script", ["benchmarks.book_style", "benchmarks.torch_style"])
@pytest.mark.parametrize("args, message", [
    (["--iters", "0"], "argument --iters: must be a positive int, got 0"),
    (["--seed", "-1"], "argument --seed: must be 0 or more, got -1"),
    (["--plot", "curve.txt"], "--plot curve.txt: the figure is saved as PNG"),
    (["--plot", "missing/curve.png"], "the folder"),
])
def test_the_benchmarks_contenders_refuse_bad_options_before_any_work(tmp_path, script, args,
                                                                      message):
    # Before: a traceback after loading the data, or after the whole run, or nothing done.
    process = subprocess.run([sys.executable, "-m", script, *args], capture_output=True,
                             text=True, timeout=60, cwd=tmp_path,
                             env=dict(os.environ, DLFS_DATA_HOME=str(tmp_path / "no data")))
    assert process.returncode == 2
    assert message in process.stderr.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_the_book_style_contender_writes_into_a_named_pipe_as_given(named_pipe):
    from benchmarks.book_style import plot

    fifo, finish = named_pipe
    plot([0.1, 0.5], [0.1, 0.4], fifo)  # before: a file pipe.png beside it, and nothing here
    assert finish().startswith(b"\x89PNG\r\n\x1a\n")
    assert not fifo.with_name("pipe.png").exists()


def test_a_missing_backend_module_is_no_error_when_no_window_opens(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "ch04.gradient_1d", "--no-show", "--plot", str(tmp_path / "p.png")],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, MPLBACKEND="module://no_such.backend"))
    assert (process.returncode, process.stderr) == (0, "")
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")
