"""What every chapter-4 script does with its figure: always save it as PNG, show it when it can.

The book's scripts only call plt.show(), which draws nothing on a machine without a display.
Ours write the PNG first, then open a window only if matplotlib's backend is interactive and
--no-show is absent. matplotlib is imported inside the functions, so importing a script (say,
to call its train function) does not import matplotlib.
"""

from pathlib import Path

from common.files import atomic_write, check_writable


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


def check_figure_path(parser, path):
    """Exit with an argparse error (status 2) unless a PNG can be written at `path`."""
    if path.suffix.lower() != ".png":
        parser.error(f"--plot {path}: the figure is saved as PNG, so the name must end in .png")
    try:
        check_writable(path, "figure")
    except OSError as e:
        parser.error(f"--plot {path}: {e}")


def save_figure(fig, path):
    """Write fig to path as PNG, atomically: an interrupted save leaves no half-written file."""
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")


def show_figure(fig, no_show=False):
    """Open fig in a window if the backend can, then close it. Returns True if it was shown."""
    import matplotlib.pyplot as plt

    # Non-interactive canvases (Agg, used when there is no display) have no GUI framework.
    shown = not no_show and fig.canvas.required_interactive_framework is not None
    if shown:
        plt.show()
    plt.close(fig)
    return shown
