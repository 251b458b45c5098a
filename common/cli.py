"""What every `python -m ...` command of dlfs shares: argparse types for its numbers, what it
logs, and how it ends.

`positive(int)`, `positive(float)` and `random_seed` turn a bad value into argparse's usual error
(status 2) that names the option and the value, such as "argument --lr: must be a positive
float, got -1", instead of a traceback later on.

A command ends with main()'s exit status, and quietly when whoever reads its output stops
reading, as in `python -m ch04.train_neuralnet | head -3`: Python would otherwise print a
BrokenPipeError traceback. The program then ends at once, like most command-line programs, with
the status a shell reports for them (141), and writes nothing more: no half-run plot replaces an
earlier one. Any other OSError that reaches it, such as its output going to a full disk or a
figure going to a named pipe whose reader has gone, ends it the same way but with one line on
stderr and status 1. A message that can't be written to stderr (its reader has gone, or a full
disk) is dropped: the work goes on, is saved, and ends with its own status; unless stderr is
stdout's pipe (`2>&1 | head`), whose reader that has gone ends the program as above (at that
message, or at stdout's next line for a message that logging swallows).

A command shows the data loader's news (which source a first load took each file from, and
which it could not reach) as plain lines on stderr. The library alone logs them without showing
any but the warnings, as Python's logging does by default.

Ctrl-C ends a command with "interrupted" and status 130, and so does SIGTERM (what `kill` and
`timeout` send), which is turned into the same KeyboardInterrupt: without that, Python would
die at once, leaving the temporary file of a half-written download or figure behind.
"""

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
import threading

EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, what a shell shows for a program ended by it
EXIT_INTERRUPTED = 128 + 2  # 128 + SIGINT, likewise for Ctrl-C


def run_main(main):
    """sys.exit(main()), but a closed stdout ends the program with EXIT_BROKEN_PIPE, quietly,
    Ctrl-C and SIGTERM with EXIT_INTERRUPTED, and any other OSError with status 1. What stderr
    can't take is dropped (see _MessagesOrNothing)."""
    # Not if whoever started us has SIGTERM ignored or handled, nor outside the main thread.
    handle_sigterm = (threading.current_thread() is threading.main_thread()
                      and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
    if handle_sigterm:
        signal.signal(signal.SIGTERM, sigterm_as_ctrl_c)
    # Started with stdout or stderr closed (`>&-`, `2>&-`): what goes there goes nowhere.
    closed = [name for name in ("stdout", "stderr") if getattr(sys, name) is None]
    devnull = open(os.devnull, "w") if closed else None
    for name in closed:
        setattr(sys, name, devnull)
    stderr, sys.stderr = sys.stderr, _MessagesOrNothing(sys.stderr)
    try:
        with command_output():
            status = main()
        sys.stdout.flush()  # now, so that a broken pipe shows here and not at exit
    except KeyboardInterrupt:
        _tell("interrupted")
        status = EXIT_INTERRUPTED
        _flush_or_discard_stdout()
    except OSError as e:
        if isinstance(e, BrokenPipeError) and e.filename is None:  # stdout's, not a file's
            _discard(sys.stdout)
            status = EXIT_BROKEN_PIPE
        else:  # e.g. "No space left on device" for output sent to a full disk
            _tell(f"error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
            status = 1
            _flush_or_discard_stdout()
    finally:
        if handle_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.stderr = stderr
        for name in closed:
            setattr(sys, name, None)
        if devnull is not None:
            devnull.close()
    sys.exit(status)


@contextlib.contextmanager
def command_output():
    """What a command's output needs while it runs, put back afterwards (for a program that
    calls run_main, such as IPython's %run):
    - the data loader's INFO lines on stderr, once each, whatever logging the program has set
      up: where a first load found each file, and which sources it could not reach on the way;
    - what stdout's encoding can't show (a path, say, in output sent to a file on Windows, in
      cp1252) printed with escapes, as stderr does, instead of ending the run in a traceback.
    """
    logger, handler = logging.getLogger("dataset"), logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # not also to the program's own handlers, if it has any
    escape = getattr(sys.stdout, "errors", None) == "strict" and hasattr(sys.stdout, "reconfigure")
    if escape:
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        if escape:
            with contextlib.suppress(OSError, ValueError):  # a stdout that broke, or was closed
                sys.stdout.reconfigure(errors="strict")
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def sigterm_as_ctrl_c(signum, frame):
    """run_main's handler for SIGTERM: the KeyboardInterrupt that Ctrl-C raises."""
    raise KeyboardInterrupt


class _MessagesOrNothing:
    """sys.stderr while run_main runs: a message it can't take (its reader has gone, a full
    disk) is dropped, with whatever comes after it, instead of raising an OSError in the middle
    of the work: the run goes on to save what it has. Everything else is the stream's own.

    Unless stderr is stdout's pipe (`2>&1 | head`): then the reader that has gone is stdout's,
    and the BrokenPipeError ends the run, as it would at stdout's next line (status 141)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        try:
            return self.stream.write(text)
        except OSError as e:
            self.give_up(e)
            return len(text)

    def flush(self):
        try:
            self.stream.flush()
        except OSError as e:
            self.give_up(e)

    def give_up(self, error):
        stdouts = isinstance(error, BrokenPipeError) and _same_open_file(self.stream, sys.stdout)
        with contextlib.suppress(OSError):  # a stream with no file under it has nothing left
            _discard(self.stream)
        if stdouts:
            raise error

    def __getattr__(self, name):  # isatty, fileno, encoding...
        return getattr(self.stream, name)


def _tell(message):
    """Print run_main's own line on stderr. Into stdout's pipe whose reader has gone it goes
    nowhere (see _MessagesOrNothing): the status is already chosen."""
    with contextlib.suppress(BrokenPipeError):
        print(message, file=sys.stderr)


def _same_open_file(stream, other):
    """True if the two streams write into the same open file (or pipe), as after `2>&1`."""
    try:
        return os.path.sameopenfile(stream.fileno(), other.fileno())
    except (AttributeError, OSError, ValueError):  # no file under one of them
        return False


def _flush_or_discard_stdout():
    """Print what is left for stdout now, or, if stdout can't take it (a full disk, a reader
    gone), let it go: Python's own flush at exit would end in a traceback."""
    try:
        sys.stdout.flush()
    except OSError:
        _discard(sys.stdout)


def _discard(stream):
    """Python flushes stdout and stderr once more at exit: let what is left in `stream`, and
    what is written to it from now on, go nowhere, silently."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


def positive(kind):
    """An argparse type: `kind` (int or float) that must be finite and > 0."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a positive {kind.__name__}, got {text!r}") from None
        if not value > 0:  # also nan
            raise argparse.ArgumentTypeError(f"must be a positive {kind.__name__}, got {text}")
        if value == math.inf:  # so is 1e400, once read
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        return value

    return parse


def random_seed(text):
    """An argparse type: a random seed, an integer from 0 to 2**32 - 1 (what np.random.seed,
    used by the book's code, accepts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be less than 2**32 = {2**32}, got {text}")
    return value


@contextlib.contextmanager
def interrupts_deferred():
    """Within the block, Ctrl-C (or SIGTERM, when run_main treats it alike) does not stop the
    work: it is noted in the list yielded.

    Only in the main thread, where Python handles signals; SIGINT only if it is not ignored, and
    SIGTERM only if run_main handles it (a program that calls main() keeps its own handling).
    """
    noted, previous = [], {}
    if threading.current_thread() is threading.main_thread():
        deferred = [signal.SIGINT] if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN else []
        if signal.getsignal(signal.SIGTERM) is sigterm_as_ctrl_c:
            deferred.append(signal.SIGTERM)
        for signum in deferred:
            previous[signum] = signal.signal(signum, lambda signum, frame: noted.append(signum))
    try:
        yield noted
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
