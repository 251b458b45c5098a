"""Gradient descent on f(x0, x1) = x0² + x1², and what the learning rate does: book section 4.4.1.

    python -m ch04.gradient_method

From (-3, 4), `common.gradient.gradient_descent` takes steps x ← x - lr * ∇f(x) with the
numerical gradient. The script prints where lr = 0.1 ends, then runs the book's two bad learning
rates for 100 steps each and prints what actually comes out:
- lr = 10.0 is too large: every step overshoots the minimum and x blows up;
- lr = 1e-10 is too small: x barely moves.
For this f the gradient is 2x, so one exact step multiplies x by (1 - 2 lr): 0.8, -19 and
0.9999999998 for the three rates. One more effect shows at lr = 10.0: once |x| passes about
1e12, x ± h rounds to x in float64, the numerical gradient is 0 and x freezes; that is why the
book's printout of this run is only about 1e13, not the 5 · 19¹⁰⁰ ≈ 4e128 of exact steps.

The figure, gradient_method.png, shows the path of 20 steps at lr = 0.1 on the contour lines of
f (figure 4-10) and, beside it, each rate's distance to the minimum step by step.

Left out on purpose: any other optimiser (momentum, AdaGrad, Adam are chapter 6).
"""

import argparse

import numpy as np

from ch04._figures import add_figure_options, finish_figure, new_figure, parse_figure_args
from ch04.gradient_2d import function_2
from common.cli import run_main
from common.gradient import gradient_descent

INIT_X = (-3.0, 4.0)
LEARNING_RATE = 0.1
PATH_STEPS = 20  # steps drawn on the contour plot, as in the book's figure
STEPS = 100  # steps of the book's printed runs
TOO_LARGE_LR = 10.0
TOO_SMALL_LR = 1e-10
PLOT = "gradient_method.png"


def descend(lr, step_num, init_x=INIT_X):
    """gradient_descent on function_2 from init_x.

    → (x, history): the final point, shape (2,), and every point visited, (step_num + 1, 2).
    """
    return gradient_descent(function_2, np.array(init_x), lr=lr, step_num=step_num,
                            return_history=True)


def distance_to_minimum(history):
    """Euclidean distance of every point in history (steps, 2) to the minimum (0, 0) → (steps,)."""
    return np.linalg.norm(history, axis=1)


def last_move(history):
    """The step at which x changed for the last time (0 if it never moved)."""
    moved = np.flatnonzero(np.any(history[1:] != history[:-1], axis=1))
    return int(moved[-1]) + 1 if moved.size else 0


def plot_descent(path, histories):
    """The path on f's contour lines (left) and each rate's distance to the minimum (right).

    path: (steps + 1, 2) points visited at LEARNING_RATE. histories: {lr: (steps + 1, 2) history}.
    → Figure.
    """
    fig = new_figure(figsize=(10.5, 5))
    ax_path, ax_dist = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})

    xlim, ylim = (-3.5, 3.5), (-4.5, 4.5)  # as in the book's figure
    # The grid covers exactly the visible area, so that no contour label lands outside it.
    x0, x1 = np.meshgrid(np.linspace(*xlim, 141), np.linspace(*ylim, 181))
    levels = [1, 4, 9, 16, 25]  # circles of radius 1 to 5; the start (-3, 4) lies on f = 25
    contours = ax_path.contour(x0, x1, x0**2 + x1**2, levels=levels, colors="0.7",
                               linewidths=0.8)
    ax_path.clabel(contours, levels[:-1], fontsize=7, fmt="f = %g")  # f = 25's label hid the start
    ax_path.axhline(0, color="0.85", linestyle="--", linewidth=0.8)
    ax_path.axvline(0, color="0.85", linestyle="--", linewidth=0.8)
    ax_path.plot(path[:, 0], path[:, 1], "o-", color="C0", markersize=4, linewidth=1,
                 label=f"{len(path) - 1} steps, lr = {LEARNING_RATE:g}")
    ax_path.plot(*path[0], "s", color="C2", markersize=9,
                 label=f"start ({path[0, 0]:g}, {path[0, 1]:g})")
    ax_path.plot(*path[-1], "*", color="C3", markersize=13,
                 label=f"end ({path[-1, 0]:.3f}, {path[-1, 1]:.3f})")
    ax_path.set(xlabel="x0", ylabel="x1", xlim=xlim, ylim=ylim, aspect="equal",
                title="gradient descent on f(x0, x1) = x0² + x1²")
    ax_path.legend(loc="lower right", fontsize=8)

    for lr, history in histories.items():
        distance = distance_to_minimum(history)
        (line,) = ax_dist.plot(distance, label=f"lr = {lr:g}")
        frozen = last_move(history)
        if 0 < frozen < len(history) - 1:
            ax_dist.annotate(f"no move after step {frozen}:\nx + h rounds to x",
                             xy=(frozen, distance[frozen]), xytext=(frozen + 12, distance[frozen]),
                             textcoords="data", va="top", fontsize=8, color=line.get_color())
    ax_dist.set(xlabel="step", ylabel="distance to the minimum (0, 0)", yscale="log",
                title="how the learning rate changes the descent")
    ax_dist.grid(alpha=0.3, which="major")
    ax_dist.legend(loc="lower left")
    fig.tight_layout()
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ch04.gradient_method",
        description="Minimise x0² + x1² by gradient descent from (-3, 4), with a good, a too large "
                    "and a too small learning rate (Deep Learning from Scratch, section 4.4.1, "
                    "figure 4-10).",
    )
    add_figure_options(parser, PLOT)
    args = parse_figure_args(parser, argv)

    x, path = descend(LEARNING_RATE, PATH_STEPS)
    print(f"lr = {LEARNING_RATE:g}, {PATH_STEPS} steps (the figure): x = {x}")
    histories = {lr: descend(lr, STEPS)[1] for lr in (LEARNING_RATE, TOO_LARGE_LR, TOO_SMALL_LR)}

    good = histories[LEARNING_RATE]
    print(f"lr = {LEARNING_RATE:g}, {STEPS} steps: x = {good[-1]}")
    print(f"    close to the minimum (0, 0): each step multiplies x by {1 - 2 * LEARNING_RATE:g}")

    large = histories[TOO_LARGE_LR]
    print(f"lr = {TOO_LARGE_LR:g}, {STEPS} steps: x = {large[-1]}")
    print(f"    too large: each step multiplies x by about {1 - 2 * TOO_LARGE_LR:g}, "
          "overshooting the minimum, so x blows up")
    frozen = last_move(large)
    if frozen < STEPS:
        print(f"    after step {frozen} it stops moving: at |x| ~ {np.max(np.abs(large[-1])):.0e}, "
              "x + h rounds back to x in float64 (h = 1e-4),")
        print("    so the numerical gradient is 0 there; it never comes back")

    small = histories[TOO_SMALL_LR]
    moved = np.linalg.norm(small[-1] - small[0])
    print(f"lr = {TOO_SMALL_LR:g}, {STEPS} steps: x = {small[-1]}")
    print(f"    too small: in {STEPS} steps x moved only {moved:.1e} from the start")

    fig = plot_descent(path, histories)
    finish_figure(fig, args)
    return 0


if __name__ == "__main__":
    run_main(main)
