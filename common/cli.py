"""How every `python -m ...` command of dlfs ends.

With main()'s exit status, and quietly when whoever reads its output stops reading, as in
`python -m ch04.train_neuralnet | head -3`: Python would otherwise print a BrokenPipeError
traceback. The program then ends at once, like most command-line programs, with the status a
shell reports for them (141), and writes nothing more: no half-run plot replaces an earlier one.
"""

import os
import sys

EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, what a shell shows for a program ended by it


def run_main(main):
    """sys.exit(main()), but a closed stdout ends the program with EXIT_BROKEN_PIPE, quietly."""
    try:
        status = main()
        sys.stdout.flush()  # now, so that a broken pipe shows here and not at exit
    except BrokenPipeError:
        # Python flushes stdout once more at exit: let what is left go nowhere, silently.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        status = EXIT_BROKEN_PIPE
    sys.exit(status)
