"""What every chapter-4 script does with its figure: always save it as PNG, show it when it can.

The book's scripts only call plt.show(), which draws nothing on a machine without a display.
Ours write the PNG first, then open a window only if matplotlib's backend is interactive and
--no-show is absent. matplotlib is imported inside the functions, so importing a script (say,
to call its train function) does not import matplotlib; and pyplot, the part that manages
windows, is imported only when a window may be opened (see `want_windows`).
"""

import importlib
import os
import sys
from pathlib import Path

from common.files import atomic_write, check_writable, is_device_or_pipe


def add_figure_options(parser, default_name):
    """Add --plot FILE and --no-show to an argparse parser."""
    parser.add_argument(
        "--plot",
        type=Path,
        default=Path(default_name),
        metavar="FILE",
        help="where to save the figure, as PNG (default: %(default)s in the current folder)",
    )
    parser.add_argument(
        "--no-show", action="store_true", help="only save the figure; never open a window"
    )


def check_figure_path(parser, path, no_show=False):
    """Exit with an argparse error (status 2) unless a PNG can be written at `path`.

    Its name must end in .png, unless it is a character device such as /dev/null or a named pipe.
    An MPLBACKEND that names no backend is an error too: a name matplotlib doesn't know, which it
    refuses on import, or, unless no_show (no window, so no backend), a module://NAME whose module
    can't be imported, which pyplot would fail on after the work.
    """
    backend = os.environ.get("MPLBACKEND")
    if backend:  # else matplotlib is imported only when it is needed
        try:
            import matplotlib  # noqa: F401
        except ValueError as e:
            parser.error(f"matplotlib cannot start: {e}")
        module = backend.removeprefix("module://")
        if module != backend and not no_show:
            try:
                importlib.import_module(module)  # as pyplot would, later
            except Exception as e:  # ImportError, or whatever a broken module raises
                parser.error(f"MPLBACKEND={backend}: its module cannot be imported "
                             f"({type(e).__name__}: {e}); install it, or unset MPLBACKEND")
    if not (path.name.lower().endswith(".png") or is_device_or_pipe(path)):
        parser.error(f"--plot {path}: the figure is saved as PNG, so the name must end in .png")
    try:
        check_writable(path, "figure")
    except OSError as e:
        parser.error(f"--plot {path}: {e}")


def parse_figure_args(parser, argv):
    """parser.parse_args(argv), then check_figure_path and want_windows for its --plot/--no-show."""
    args = parser.parse_args(argv)
    check_figure_path(parser, args.plot, args.no_show)
    want_windows(args.no_show)
    return args


def finish_figure(fig, args):
    """What a script's main does last: save fig to --plot, say where, show it unless --no-show."""
    save_figure(fig, args.plot)
    print(f"plot saved to {args.plot.resolve()}")
    show_figure(fig, args.no_show)


def want_windows(no_show):
    """Call once, before drawing: unless no_show, later figures come from pyplot, to be shown."""
    if not no_show:
        import matplotlib.pyplot  # noqa: F401  (imported for new_figure)


def new_figure(**kwargs):
    """A matplotlib Figure, the same as plt.figure(**kwargs).

    It is made by pyplot, which can show it in a window, only if pyplot has been imported
    (by want_windows, or by the user); otherwise it is a plain Figure, which saves importing
    pyplot (a few hundredths of a second) and is never kept alive by pyplot's list of open figures.
    """
    if "matplotlib.pyplot" in sys.modules:
        return sys.modules["matplotlib.pyplot"].figure(**kwargs)
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save_figure(fig, path):
    """Write fig to path as PNG, atomically: an interrupted save leaves no half-written file."""
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)


def show_figure(fig, no_show=False):
    """Open fig in a window if the backend can, then close it."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:  # a plain Figure from new_figure: nothing to show or close
        return
    # Non-interactive canvases (Agg, used when there is no display) have no GUI framework.
    if not no_show and fig.canvas.required_interactive_framework is not None:
        plt.show()
    plt.close(fig)
