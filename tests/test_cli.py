"""The commands' argparse types, and how every command ends: with main()'s status, and quietly
when its output's reader goes away."""

import argparse
import subprocess
import sys

import pytest

from common.cli import EXIT_BROKEN_PIPE, positive, random_seed, run_main


@pytest.mark.parametrize("status", [0, 2])
def test_run_main_exits_with_mains_status(status):
    with pytest.raises(SystemExit) as exit_info:
        run_main(lambda: status)
    assert exit_info.value.code == status


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


@pytest.mark.parametrize("kind, text, value", [(int, "3", 3), (float, "0.1", 0.1),
                                               (float, "1e-3", 1e-3)])
def test_positive_accepts_positive_numbers(kind, text, value):
    assert positive(kind)(text) == value


@pytest.mark.parametrize("kind, text, message", [
    (int, "0", "must be a positive int, got 0"),
    (int, "-2", "must be a positive int, got -2"),
    (int, "1.5", "expected a positive int, got '1.5'"),
    (float, "0", "must be a positive float, got 0"),
    (float, "inf", "must be a positive float, got inf"),
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
