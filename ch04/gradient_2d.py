"""The gradient of f(x0, x1) = x0² + x1² as a field of arrows: book section 4.4, figure 4-9.

    python -m ch04.gradient_2d

It prints the numerical gradient at the book's three points (3, 4), (0, 2) and (3, 0), then
computes the gradient at every point of a grid from -2 to 2.25 in steps of 0.25 and draws the
*negative* gradient there as an arrow, saved as gradient_2d.png. Every arrow points towards the
minimum at the origin, and arrows get longer the farther they are from it.

One difference from the book's script: there the grid goes to `numerical_gradient` as a single
(2, N) array, whose two rows (all x0 values, then all x1 values) are each treated as one long
point. That happens to give the right arrows only because x0² + x1² is a sum of separate
squares. Here every grid point is one row of an (N, 2) array and gets its own gradient.

Left out on purpose: the 3-D surface plot of f (figure 4-8).
"""

import argparse

import numpy as np

from ch04._figures import add_figure_options, finish_figure, new_figure, parse_figure_args
from common.cli import run_main
from common.gradient import numerical_gradient

GRID_START, GRID_STOP, GRID_STEP = -2.0, 2.5, 0.25  # np.arange's arguments, as in the book
BOOK_POINTS = ((3.0, 4.0), (0.0, 2.0), (3.0, 0.0))  # where the book prints the gradient
PLOT = "gradient_2d.png"


def function_2(x):
    """f(x) = x0² + x1² for one point x of shape (2,) → float."""
    return np.sum(x**2)


def grid_points(start=GRID_START, stop=GRID_STOP, step=GRID_STEP):
    """Every point of the square grid np.arange(start, stop, step)², as an (N, 2) float64 array."""
    axis = np.arange(start, stop, step)
    x0, x1 = np.meshgrid(axis, axis)
    return np.column_stack([x0.ravel(), x1.ravel()])


def gradient_field(points, f=function_2):
    """The numerical gradient of f at each point. points: (N, 2) → (N, 2) float64."""
    # A float64 copy, because numerical_gradient perturbs each point in place while it works.
    points = np.array(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), one point per row; got {points.shape}")
    return np.array([numerical_gradient(f, p) for p in points]).reshape(points.shape)


def plot_gradient_field(points, grad):
    """Arrows of -grad at the points → Figure. points, grad: (N, 2)."""
    fig = new_figure(figsize=(6, 6))
    ax = fig.subplots()
    # angles="xy": arrows point along (dx0, dx1) in data coordinates, as in the book.
    ax.quiver(points[:, 0], points[:, 1], -grad[:, 0], -grad[:, 1], angles="xy", color="#555555")
    ax.plot(0, 0, "+", color="C3", markersize=12, markeredgewidth=2)
    ax.set(xlabel="x0", ylabel="x1", xlim=(-2.3, 2.5), ylim=(-2.3, 2.5), aspect="equal",
           title="negative gradient of f(x0, x1) = x0² + x1²\n(+ marks the minimum at the origin)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ch04.gradient_2d",
        description="Compute the gradient of x0² + x1² numerically and draw the negative "
                    "gradient as arrows (Deep Learning from Scratch, section 4.4, figure 4-9).",
    )
    add_figure_options(parser, PLOT)
    args = parse_figure_args(parser, argv)

    for point, grad in zip(BOOK_POINTS, gradient_field(BOOK_POINTS), strict=True):
        exact = 2 * np.array(point)
        print(f"gradient at ({point[0]:g}, {point[1]:g}): {grad}   (analytic (2x0, 2x1) = {exact})")

    points = grid_points()
    grad = gradient_field(points)
    error = np.max(np.abs(grad - 2 * points))
    print(f"{len(points)} grid points; largest difference from the analytic gradient {error:.1e}")

    fig = plot_gradient_field(points, grad)
    finish_figure(fig, args)
    return 0


if __name__ == "__main__":
    run_main(main)
