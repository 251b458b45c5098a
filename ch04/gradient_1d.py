"""The numerical differentiation example of book section 4.3.2, and its figure 4-7.

    python -m ch04.gradient_1d

The function f(x) = 0.01x² + 0.1x is differentiated at x = 5 and x = 10 by central differences
(`common.gradient.numerical_diff`, h = 1e-4). The script prints each numerical slope in full,
beside the exact derivative f'(x) = 0.02x + 0.1, so the tiny rounding error shows; then it draws
f on [0, 20] with its tangent lines at both points and saves the figure as gradient_1d.png.

Left out on purpose: the forward difference (f(x + h) - f(x)) / h, which the book shows only
to explain why the central one is better.
"""

import argparse

import numpy as np

from ch04._figures import add_figure_options, finish_figure, new_figure, parse_figure_args
from common.cli import run_main
from common.gradient import numerical_diff

X_RANGE = (0.0, 20.0)  # the interval drawn, as in figure 4-7
TANGENT_POINTS = (5.0, 10.0)  # where the book takes the derivative
PLOT = "gradient_1d.png"


def function_1(x):
    """f(x) = 0.01x² + 0.1x, for a scalar or an array of any shape."""
    return 0.01 * x**2 + 0.1 * x


def function_1_derivative(x):
    """The exact derivative f'(x) = 0.02x + 0.1, to compare with the numerical one."""
    return 0.02 * x + 0.1


def tangent_line(f, x0):
    """The tangent to f at x0, as the book returns it: the function x ↦ slope * x + intercept.

    The slope is f'(x0) by numerical differentiation; the line passes through (x0, f(x0)).
    """
    slope = numerical_diff(f, x0)
    intercept = f(x0) - slope * x0
    return lambda x: slope * x + intercept


def plot_tangents(f, points=TANGENT_POINTS, x_range=X_RANGE):
    """f on x_range with its tangent lines at each of `points` → Figure."""
    x = np.linspace(*x_range, 201)
    fig = new_figure(figsize=(6.4, 4.6))
    ax = fig.subplots()
    ax.plot(x, f(x), color="black", linewidth=2, label="f(x) = 0.01x² + 0.1x")
    for i, x0 in enumerate(points):
        ax.plot(x, tangent_line(f, x0)(x), color=f"C{i}", linestyle="--",
                label=f"tangent at x = {x0:g} (slope {numerical_diff(f, x0):.4f})")
        ax.plot(x0, f(x0), "o", color=f"C{i}")
    ax.set(xlabel="x", ylabel="f(x)", xlim=x_range,
           title="f(x) and its tangents, slopes by numerical differentiation")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ch04.gradient_1d",
        description="Differentiate f(x) = 0.01x² + 0.1x numerically at x = 5 and 10 and draw "
                    "its tangent lines (Deep Learning from Scratch, section 4.3.2, figure 4-7).",
    )
    add_figure_options(parser, PLOT)
    args = parse_figure_args(parser, argv)

    for x0 in TANGENT_POINTS:
        print(f"x = {x0:g}: numerical slope {numerical_diff(function_1, x0)!r}, "
              f"analytic {function_1_derivative(x0):g}")

    fig = plot_tangents(function_1)
    finish_figure(fig, args)
    return 0


if __name__ == "__main__":
    run_main(main)
