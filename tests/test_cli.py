"""Every command ends with main()'s status, and quietly when its output's reader goes away."""

import subprocess
import sys

import pytest

from common.cli import EXIT_BROKEN_PIPE, run_main


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
