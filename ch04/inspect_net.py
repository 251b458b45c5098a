"""What the network of train_neuralnet learned, seen three ways on the test set.

    python -m ch04.train_neuralnet --save-params params.npz
    python -m ch04.inspect_net params.npz        # add --dataset fashion-mnist for such a run

It loads the saved TwoLayerNet and the test set, prints each class's accuracy, the overall
accuracy and the most frequent confusions, and draws one figure, inspect_net.png:
- the incoming weights of each hidden unit (a column of W1) as a 28 × 28 image: red where a
  bright pixel raises the unit's input a1, blue where it lowers it. The speckle near the edges
  is left over from the random start: a pixel that is (almost) always 0 gets (almost) no
  gradient, since dL/dW1 = x.T @ da1, so its weights hardly move from their initial values;
- the misclassified test images the network was surest of, with true and predicted class;
- the confusion matrix: how many test images of each true class (row) got each prediction
  (column). The diagonal holds the correct ones.

The book stops at the accuracy plot; these pictures are ours. Left out on purpose: the second
layer's weights W2 (a 50 × 10 table with no image to show), the biases, the training set, and
any library beyond NumPy and matplotlib (no scikit-learn for the confusion matrix).
"""

import argparse
import math
import sys
import warnings
from pathlib import Path

import numpy as np

import dataset
from ch04._figures import add_figure_options, finish_figure, new_figure, parse_figure_args
from ch04.two_layer_net import TwoLayerNet
from common.cli import run_main
from common.files import is_same_file
from common.functions import class_indices

DATASET = "mnist"
PLOT = "inspect_net.png"
MAX_UNITS = 100  # hidden units drawn; more tiles than this would be too small to see
MISTAKES = 20  # misclassified images drawn, the surest first
MOST_CONFUSED = 5  # (true, predicted) pairs printed
WEIGHT_CMAP = "RdBu_r"  # diverging: blue < 0, white = 0, red > 0
# Weights are drawn in this many shades, an odd number so that 0 has its own. The eye sees
# no steps, and the PNG is about a third smaller than with a smooth scale (213 KB, not 307).
WEIGHT_SHADES = 17
IMAGE_CMAP = "gray"  # as the data: bright ink (1.0) on a black background (0.0)
CONFUSION_CMAP = "Blues"
MAX_TITLE_CHARS = 16  # a longer "true A → pred B" is split over two lines


def confusion_matrix(t, y, num_classes):
    """Count every (true class, predicted class) pair.

    t: (N,) integer or (N, C) one-hot true labels; y: (N,) integer or (N, C) one-hot predicted
    labels → (C, C) int counts; row i, column j = how many examples of class i were predicted j.
    """
    if len(t) != len(y):
        raise ValueError(f"{len(t)} true labels but {len(y)} predicted ones: give one of each "
                         "per example")
    if not (_is_whole(num_classes) and num_classes >= 1):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    num_classes = int(num_classes)  # np.uint8(16) ** 2 would be 0
    shape = (len(t), num_classes)
    # Widened first: the loaders give uint8 labels, and t * num_classes + y may not fit in one.
    t, y = (class_indices(labels, shape).astype(np.intp) for labels in (t, y))
    return np.bincount(t * num_classes + y, minlength=num_classes**2).reshape(num_classes, -1)


def per_class_accuracy(confusion):
    """(C, C) confusion matrix → (C,) fraction of each true class predicted right.

    A class with no examples gets NaN rather than a division by zero.
    """
    totals = confusion.sum(axis=1)
    return np.divide(np.diag(confusion), totals, out=np.full(len(totals), np.nan),
                     where=totals > 0)


def most_confused(confusion, count=MOST_CONFUSED):
    """The off-diagonal cells with the largest counts → [(true, predicted, count)], largest first.

    At most `count` of them (all if count is None). Cells with a count of 0 are left out; ties
    keep row-major order.
    """
    _check_count(count)
    errors = confusion * (1 - np.eye(len(confusion), dtype=confusion.dtype))
    cells = np.argsort(-errors, axis=None, kind="stable")[:count]
    pairs = [(*np.unravel_index(cell, errors.shape), errors.flat[cell]) for cell in cells]
    return [(int(i), int(j), int(n)) for i, j, n in pairs if n > 0]


def misclassified(t, y, count=None):
    """Indices of the wrongly classified examples, those the network was surest of first.

    t: (N,) integer or (N, C) one-hot labels; y: (N, C) class probabilities (network.predict).
    → (k,) int indices into the N examples, k ≤ count (all mistakes if count is None), sorted
    by the probability given to the wrong class, largest first; ties keep the data's order.
    """
    _check_count(count)
    labels = class_indices(t, y.shape)
    predicted = y.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = np.argsort(-y[wrong, predicted[wrong]], kind="stable")
    return wrong[order][:count]


def _is_whole(n):
    """True for a Python or NumPy integer, but not for True or False."""
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool)


def _check_count(count):
    """Raise ValueError unless count is None (meaning all) or a whole number 0 or more."""
    if not (count is None or (_is_whole(count) and count >= 0)):
        raise ValueError(f"count must be a whole number, 0 or more, or None for all, "
                         f"got {count!r}")


def grid_shape(count, aspect):
    """(rows, cols) for count tiles in a grid about `aspect` times as wide as it is tall."""
    cols = max(1, min(count, math.ceil(math.sqrt(aspect * count))))
    return max(1, math.ceil(count / cols)), cols


def _tile_axes(fig, count, aspect):
    """A grid of at least count axes without ticks in fig; the spare ones hidden → list of axes."""
    axes = fig.subplots(*grid_shape(count, aspect), squeeze=False).ravel()
    for ax in axes:
        ax.set(xticks=[], yticks=[])
    for ax in axes[count:]:
        ax.set_axis_off()
    return axes[:count]


def draw_weights(fig, W1, image_shape, max_units=MAX_UNITS):
    """Each hidden unit's incoming weights, a column of W1 (input, hidden), as an image.

    Each tile has its own colour scale, symmetric about 0, so that every unit's pattern shows.
    fig: a Figure or SubFigure to draw in.
    """
    import matplotlib as mpl

    cmap = mpl.colormaps[WEIGHT_CMAP].resampled(WEIGHT_SHADES)
    count = min(W1.shape[1], max_units)
    for j, ax in enumerate(_tile_axes(fig, count, aspect=2.0)):
        w = W1[:, j].reshape(image_shape)
        limit = np.abs(w).max() or 1.0  # an all-zero unit would give vmin = vmax
        ax.imshow(w, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"unit {j}", fontsize=8, pad=2)
    shown = "" if count == W1.shape[1] else f"the first {count} of "
    fig.suptitle(f"Incoming weights of {shown}the {W1.shape[1]} hidden units (columns of W1): "
                 "red > 0, blue < 0, each tile scaled to its own largest |w|")


def _mistake_title(true_name, predicted_name, probability):
    """'true 4 → pred 9' over the probability; long class names get a line each."""
    label = f"true {true_name} → pred {predicted_name}"
    if len(label) > MAX_TITLE_CHARS:
        label = f"true {true_name}\n→ pred {predicted_name}"
    # Rounded down, so that 99.97% is not shown as a certain 100%.
    return f"{label}\n({math.floor(probability * 1000) / 10:.1f}%)"


def draw_mistakes(fig, images, t, y, class_names, total):
    """Misclassified images with their labels.

    images: (k, H, W); t: (k,) integer true labels; y: (k, C) predicted probabilities;
    total: how many mistakes there are in all, for the title. fig: a Figure or SubFigure.
    """
    if len(images) == 0:
        fig.suptitle("No misclassified test images")
        return
    predicted = y.argmax(axis=1)
    for ax, image, label, pred, probs in zip(_tile_axes(fig, len(images), aspect=1.25), images,
                                             t, predicted, y, strict=True):
        ax.imshow(image, cmap=IMAGE_CMAP, interpolation="nearest")
        ax.set_title(_mistake_title(class_names[label], class_names[pred], probs[pred]),
                     fontsize=8, pad=2, linespacing=1.1)
    fig.suptitle(f"The {len(images)} mistakes the network was surest of, of {total}:\n"
                 "true → predicted class (the probability it gave the wrong class)")


def draw_confusion(fig, confusion, class_names):
    """The confusion matrix with its counts written in the cells. fig: a Figure or SubFigure."""
    import matplotlib as mpl
    from matplotlib.colors import LogNorm

    ax = fig.subplots()
    # On a log scale the errors, a few dozen at most, still show beside the ~1000 correct ones.
    norm = LogNorm(vmin=1, vmax=max(confusion.max(), 2))
    cmap = mpl.colormaps[CONFUSION_CMAP].with_extremes(bad="white")
    image = ax.imshow(np.ma.masked_equal(confusion, 0), cmap=cmap, norm=norm)
    for (i, j), count in np.ndenumerate(confusion):
        colour = "0.75" if count == 0 else "white" if norm(count) > 0.6 else "black"
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8, color=colour)
    ticks = np.arange(len(class_names))
    long_names = max(map(len, class_names)) > 2
    ax.set_xticks(ticks, class_names, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center")
    ax.set_yticks(ticks, class_names)
    ax.set(xlabel="predicted class", ylabel="true class")
    ax.tick_params(length=0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="test images (log scale)")
    accuracy = np.trace(confusion) / confusion.sum()
    fig.suptitle(f"Confusion matrix: test accuracy {accuracy:.4f}")


def plot_inspection(W1, images, t, y, confusion, class_names, title=""):
    """The three views in one figure: weights on top, mistakes and confusion matrix below.

    W1: (H·W, hidden) first-layer weights; images: (N, H, W) test images; t: (N,) integer
    labels; y: (N, C) predicted probabilities; confusion: (C, C) their confusion matrix.
    → Figure.
    """
    fig = new_figure(figsize=(12, 11), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])
    left, right = bottom.subfigures(1, 2, width_ratios=[1.15, 1])

    draw_weights(top, W1, images.shape[1:])
    wrong = misclassified(t, y)
    shown = wrong[:MISTAKES]
    draw_mistakes(left, images[shown], t[shown], y[shown], class_names, total=len(wrong))
    draw_confusion(right, confusion, class_names)
    if title:  # as it is: a file name's $ is not the start of mathematics
        fig.suptitle(title, fontsize="x-large", parse_math=False)
    return fig


def _drawable(name):
    """A file name as text matplotlib can draw: bytes that were not UTF-8, which Python keeps as
    lone surrogates (and matplotlib refuses), become the replacement character �."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _load_network(parser, path):
    """TwoLayerNet.load(path), or an argparse error (status 2) that names the file.

    Parameters that are NaN or infinite are refused too: they predict nothing to show.
    """
    try:
        network = TwoLayerNet.load(path)
    except OSError as e:  # missing, a folder, unreadable
        parser.error(f"cannot read {path}: {e.strerror or e}")
    except ValueError as e:  # not saved parameters, or damaged
        parser.error(f"{e} (save some with python -m ch04.train_neuralnet --save-params FILE)")
    if not all(np.isfinite(value).all() for value in network.params.values()):
        parser.error(f"{path} holds NaN or infinite parameters (from a run that diverged?)")
    return network


def main(argv=None):
    """Inspect saved parameters from the command line; returns the exit status."""
    from dataset import DatasetUnavailableError

    parser = argparse.ArgumentParser(
        prog="python -m ch04.inspect_net",
        description="Show what a trained two-layer network learned: its hidden units' weights, "
                    "its surest mistakes and its confusion matrix on the test set.",
    )
    parser.add_argument("params", type=Path,
                        help="parameters saved by python -m ch04.train_neuralnet --save-params")
    parser.add_argument("--dataset", choices=list(dataset.datasets()), default=DATASET,
                        help="the data set the network was trained on (default: %(default)s)")
    add_figure_options(parser, PLOT)
    args = parse_figure_args(parser, argv)
    if is_same_file(args.plot, args.params):
        parser.error(f"--plot {args.plot} is the parameters file; give the figure another name")

    datasets = dataset.datasets()
    loader, spec = datasets[args.dataset]
    network = _load_network(parser, args.params)
    (num_inputs, hidden_size), num_outputs = network.params["W1"].shape, len(network.params["b2"])
    num_pixels, num_classes = spec.input_size, len(spec.class_names)
    if num_inputs != num_pixels:
        parser.error(f"{args.params}: the network takes {num_inputs} inputs, but {args.dataset} "
                     f"images have {num_pixels} pixels")
    if num_outputs != num_classes:
        parser.error(f"{args.params}: the network has {num_outputs} outputs, but {args.dataset} "
                     f"has {num_classes} classes")

    try:
        _, (x_test, t_test) = loader(normalize=True)
    except DatasetUnavailableError as e:
        print(e, file=sys.stderr)
        return 1

    try:
        with np.errstate(over="raise", invalid="raise"):  # rather than NaN probabilities
            # 1000 images at a time, as accuracy() does: a wide network's hidden layer for all
            # of them at once could take gigabytes.
            y = np.concatenate([network.predict(x_test[start:start + 1000])
                                for start in range(0, len(x_test), 1000)])
    except FloatingPointError as e:
        parser.error(f"{args.params} holds parameters too large to compute with ({e})")
    confusion = confusion_matrix(t_test, y.argmax(axis=1), num_classes)
    correct, totals = np.diag(confusion), confusion.sum(axis=1)
    accuracy = correct.sum() / totals.sum()

    # Printed in ASCII (-> for the figure's →), which any terminal's encoding can show.
    print(f"{args.params}: a {num_inputs} -> {hidden_size} -> {num_outputs} network, "
          f"on the {len(t_test)} {args.dataset} test images")
    width = max(len("class"), *map(len, spec.class_names))
    print(f"{'class':<{width}}  correct/total  accuracy")
    for name, right, total, acc in zip(spec.class_names, correct, totals,
                                       per_class_accuracy(confusion), strict=True):
        print(f"{name:<{width}}  {f'{right}/{total}':>13}  {acc:8.4f}")
    print(f"test accuracy {accuracy:.4f} ({correct.sum()}/{totals.sum()} correct)")
    if accuracy < 2 / num_classes:
        others = " or ".join(name for name in datasets if name != args.dataset)
        print(f"that is close to the {1 / num_classes:.2f} of guessing: were these parameters "
              f"trained with --dataset {others}?")
    print("most frequent mistakes, true -> predicted:")
    for i, j, n in most_confused(confusion):
        print(f"  {spec.class_names[i]} -> {spec.class_names[j]}: {n}")

    fig = plot_inspection(network.params["W1"], x_test.reshape(-1, *spec.image_shape), t_test,
                          y, confusion, spec.class_names,
                          title=f"{_drawable(args.params.name)}: a {num_inputs} → "
                                f"{hidden_size} → {num_outputs} network on the {args.dataset} "
                                "test set")
    with warnings.catch_warnings():
        # A name in letters the font lacks (Japanese, say) is drawn as boxes, without a warning.
        warnings.filterwarnings("ignore", r"Glyph \d+ .*missing from", UserWarning)
        finish_figure(fig, args)
    return 0


if __name__ == "__main__":
    run_main(main)
