"""The book's training run (section 4.5): a TwoLayerNet learns MNIST by mini-batch SGD.

    python -m ch04.train_neuralnet            # hidden 50, 10000 iterations, batch 100, lr 0.1

Every epoch it prints the book's line, such as `train acc, test acc | 0.7889833333333334, 0.7931`,
and at the end it saves the book's accuracy plot, next to the mini-batch loss curve, as
train_neuralnet.png.

Two small departures from the book's loop, neither of which changes what is learned:
- The loss recorded for each iteration is the one computed on the way to the gradient, i.e.
  just before the update, instead of a second forward pass just after it.
- Training runs in float32 by default (--dtype float64 for the book's precision).

`train` returns the history and needs no matplotlib, so it can be called from tests or a REPL.

Run as a script, it asks NumPy's BLAS for one thread per matrix product and measures accuracy
in a second thread, on the other core, while training goes on; see `Evaluator`.
"""

import os
import sys

# Run as a script, before NumPy loads its BLAS: one thread per matrix product. A mini-batch's
# products are too small to gain much from a second thread, and its core does more good
# measuring accuracy at the same time (Evaluator). A value the user has set wins.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                "OMP_NUM_THREADS")  # OpenBLAS (in NumPy's wheels), MKL, Apple's Accelerate
if __name__ == "__main__" and "numpy" not in sys.modules:
    for _variable in BLAS_THREADS:
        os.environ.setdefault(_variable, "1")
    ONE_BLAS_THREAD = all(os.environ[variable] == "1" for variable in BLAS_THREADS)
else:
    ONE_BLAS_THREAD = False  # NumPy is loaded already, or this module is only imported

import argparse
import contextlib
import math
import secrets
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

import dataset
from ch04._figures import (
    add_figure_options,
    check_figure_path,
    new_figure,
    save_figure,
    show_figure,
    want_windows,
)
from ch04.two_layer_net import TwoLayerNet
from common.cli import EXIT_INTERRUPTED, interrupts_deferred, positive, random_seed, run_main
from common.files import check_writable, end_pipe, is_device_or_pipe, is_same_file
from dataset import scale_pixels

ITERS = 10_000
BATCH_SIZE = 100
LEARNING_RATE = 0.1
HIDDEN_SIZE = 50
DTYPE = "float32"
GRAD = "backprop"
DATASET = "mnist"
PLOT = "train_neuralnet.png"
# A loss this many times that of a uniform guess, log(classes), means the run has blown up:
# with sigmoid and softmax written stably the loss rarely becomes NaN, it just grows (to
# hundreds at lr 1000), while a healthy run starts at log(10) ≈ 2.3 and goes down.
DIVERGENCE_FACTOR = 10
# NumPy's error handling while training and measuring: overflow (and the NaN that follows it)
# raises FloatingPointError, which train reports as TrainingDiverged, instead of a warning.
OVERFLOW_RAISES = {"over": "raise", "invalid": "raise"}
LOSS_BANDS = 500  # the loss curve is drawn as the range of each of this many groups


@dataclass
class History:
    """What a run records, under the book's names.

    train_loss_list: the mini-batch loss of every iteration.
    train_acc_list, test_acc_list: accuracy on the full sets, once per epoch (iteration 0 first).
    iter_per_epoch: iterations between two accuracy measurements.
    """

    train_loss_list: list = field(default_factory=list)
    train_acc_list: list = field(default_factory=list)
    test_acc_list: list = field(default_factory=list)
    iter_per_epoch: int = 1


class TrainingDiverged(ArithmeticError):
    """The loss or the weights exploded: the learning rate is too large for this network."""

    def __init__(self, iteration, lr, symptom):
        super().__init__(
            f"training diverged at iteration {iteration}: {symptom}. The learning rate {lr:g} "
            f"is too large; try a smaller one (the book uses {LEARNING_RATE:g})."
        )
        self.iteration = iteration


def train(network, x_train, t_train, x_test, t_test, *, iters=ITERS, batch_size=BATCH_SIZE,
          lr=LEARNING_RATE, grad=GRAD, rng=None, history=None, on_epoch=None, progress=False,
          evaluate_in_background=False):
    """Train `network` in place by mini-batch SGD and return its History.

    x_*: (N, 784) float images, or uint8 pixels 0..255, which are scaled to [0, 1] a mini-batch
    at a time: the numbers load_mnist(normalize=True) would give, at a quarter of the memory.
    t_*: (N,) integer or (N, 10) one-hot labels.
    grad: "backprop" (network.gradient) or "numerical" (network.numerical_gradient).
    rng: a np.random.Generator or seed for drawing mini-batches (with replacement, as the book's
    np.random.choice does). history: a History to append to, so that a caller keeps the record
    of a run that was interrupted. on_epoch(epoch, train_acc, test_acc) is called after each
    accuracy measurement. progress: show a tqdm progress bar on stderr.
    evaluate_in_background: measure accuracy in a second thread (see Evaluator). The history is
    the same; it pays off when NumPy's BLAS runs one thread per product, as the script sets up.

    Raises ValueError if the images hold NaN or inf, and TrainingDiverged as soon as the loss is
    not finite or exceeds DIVERGENCE_FACTOR times log(classes), before that iteration's update,
    and as soon as a number overflows the network's dtype (see overflow_means_divergence).
    Measurements already started are recorded before train returns or raises, also when it is
    interrupted.
    """
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        # Else the NaN would be taken for a blow-up. A NaN makes min and max NaN; inf is one.
        if (np.issubdtype(x.dtype, np.inexact) and x.size
                and not (np.isfinite(x.min()) and np.isfinite(x.max()))):
            row = int(np.flatnonzero(~np.isfinite(x).all(axis=tuple(range(1, x.ndim))))[0])
            raise ValueError(f"{name} holds NaN or inf (the first in image {row}): training "
                             "on it would only make NaN; clean the data first")
    rng = np.random.default_rng(rng)
    history = History() if history is None else history
    train_size = len(x_train)
    history.iter_per_epoch = iter_per_epoch = max(train_size // batch_size, 1)
    diverged_loss = DIVERGENCE_FACTOR * math.log(max(network.params["b2"].size, 2))
    if grad == "backprop":
        loss_and_gradient = network.loss_and_gradient  # one forward pass gives both
    elif grad == "numerical":
        def loss_and_gradient(x, t):
            return network.loss(x, t), network.numerical_gradient(x, t)
    else:
        raise ValueError(f"grad must be 'backprop' or 'numerical', got {grad!r}")

    iterations = range(iters)
    if progress:
        from tqdm import tqdm

        iterations = tqdm(iterations, desc="training", unit="iter", file=sys.stderr,
                          dynamic_ncols=True, leave=False)

    def record(train_acc, test_acc):
        history.train_acc_list.append(train_acc)
        history.test_acc_list.append(test_acc)
        if progress:
            iterations.set_postfix(loss=f"{history.train_loss_list[-1]:.3f}",
                                   test_acc=f"{test_acc:.4f}")
        if on_epoch is not None:
            on_epoch(len(history.train_acc_list) - 1, train_acc, test_acc)

    batch_buffer = np.empty((batch_size, *x_train.shape[1:]), dtype=np.float32)
    # On leaving the with block, even by Ctrl-C or a blow-up, the measurements already started
    # are waited for and recorded.
    with overflow_means_divergence(history, lr, network.dtype), Evaluator(
            x_train, t_train, x_test, t_test, record, evaluate_in_background) as evaluator:
        for i in iterations:
            if i % iter_per_epoch == 0:  # a whole epoch's mini-batches in one call, not 600
                batch_masks = rng.integers(train_size, size=(iter_per_epoch, batch_size))
            batch_mask = batch_masks[i % iter_per_epoch]
            x_batch = x_train[batch_mask]
            if x_batch.dtype == np.uint8:  # pixels / 255, as load_mnist(normalize=True) gives them,
                # into the same buffer every time: a fresh 300 KB array costs page faults
                x_batch = scale_pixels(x_batch, out=batch_buffer)
            t_batch = t_train[batch_mask]

            loss, grads = loss_and_gradient(x_batch, t_batch)
            if not loss < diverged_loss:  # also catches NaN
                raise TrainingDiverged(i, lr, f"the mini-batch loss is {loss:.4g}, more than "
                                       f"{DIVERGENCE_FACTOR} times that of a uniform guess")
            for key, g in grads.items():
                network.params[key] -= lr * g
            history.train_loss_list.append(float(loss))

            if i % iter_per_epoch == 0:
                evaluator.submit(network.params)
            evaluator.report_finished()
    if progress:
        iterations.close()
    return history


@contextlib.contextmanager
def overflow_means_divergence(history, lr, dtype):
    """Within the block, NumPy arithmetic that overflows raises TrainingDiverged.

    A learning rate far too large (--lr 1e300) can make the weights overflow before the loss
    shows anything; NumPy would then warn and go on with inf and NaN. The iteration named is
    the one after the last recorded in `history`.
    """
    try:
        with np.errstate(**OVERFLOW_RAISES):
            yield
    except FloatingPointError as e:
        raise TrainingDiverged(len(history.train_loss_list), lr,
                               f"its numbers grew too large for {dtype} ({e})") from None


class MeasuringOutOfMemory(MemoryError):
    """Measuring accuracy ran out of memory: its hidden layer, for 1000 images at a time, or its
    copy of the weights is too big. A smaller batch doesn't help here, as it does for training's
    own MemoryError."""


@contextlib.contextmanager
def memory_for_measuring():
    """Within the block, a MemoryError becomes a MeasuringOutOfMemory, in NumPy's words."""
    try:
        yield
    except MemoryError as e:
        raise MeasuringOutOfMemory(str(e)) from None  # its words, not its args


class Evaluator:
    """Accuracy on the training and test sets, for the parameters as they were at each submit.

    report(train_acc, test_acc) is called with each measurement, in the order of the submits,
    from report_finished() and, for those still running, on leaving a `with` block.

    In the foreground, submit measures at once, as the book's loop does. In the background, a
    second thread measures a copy of the parameters while training goes on: NumPy lets go of
    Python's lock (the GIL) inside its matrix products, so with a one-thread BLAS the two
    threads really run on two cores. (With a BLAS of several threads, both would wait on its
    threads, and training became slower than measuring in the loop.)
    """

    def __init__(self, x_train, t_train, x_test, t_test, report, in_background=False):
        self.data = (x_train, t_train), (x_test, t_test)
        self.report = report
        self.pool = ThreadPoolExecutor(max_workers=1) if in_background else None
        self.pending = deque()  # Futures of (train_acc, test_acc), oldest first

    def measure(self, params):
        network = TwoLayerNet.from_params(params)
        with memory_for_measuring(), np.errstate(**OVERFLOW_RAISES):
            return tuple(accuracy(network, x, t) for x, t in self.data)  # errstate: as in training

    def submit(self, params):
        """Measure `params`, at once or in the background. An error is raised by report_finished,
        in either mode, so that a caller can still save its files first."""
        future = Future()
        try:
            if self.pool is None:
                future.set_result(self.measure(params))
            else:  # a copy: training changes the parameters in place
                with memory_for_measuring():
                    copy = {k: v.copy() for k, v in params.items()}
                future = self.pool.submit(self.measure, copy)
        except Exception as e:
            future.set_exception(e)
        self.pending.append(future)

    def report_finished(self, wait=False):
        """Report the measurements that are done (all of them if wait), oldest first."""
        # The last one done means all are (one worker, in order), unless its weights could not
        # be copied: then wait for those before it, so that its error stops training now.
        wait = wait or bool(self.pending and self.pending[-1].done())
        while self.pending and (wait or self.pending[0].done()):
            self.report(*self.pending.popleft().result())

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        try:
            self.report_finished(wait=True)
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)


def accuracy(network, x, t):
    """network.accuracy(x, t), where x may also be uint8 pixels 0..255 (meaning pixels / 255).

    Pixels are not divided one by one: (pixels / 255) @ W1 is pixels @ (W1 / 255), so a copy
    of the network with W1 / 255 measures them as they are. This saves a pass over the 70,000
    images every epoch; the scores differ from the divided ones only by float rounding.
    """
    if x.dtype == np.uint8:
        params = network.params
        network = TwoLayerNet.from_params(params | {"W1": params["W1"] / 255})
    return network.accuracy(x, t)


def plot_history(history, title=""):
    """The book's accuracy plot (left) beside the mini-batch loss curve (right) → Figure."""
    fig = new_figure(figsize=(11, 4.2))
    ax_acc, ax_loss = fig.subplots(1, 2)
    epochs = np.arange(len(history.train_acc_list))
    ax_acc.plot(epochs, history.train_acc_list, marker="o", markersize=4, label="train acc")
    ax_acc.plot(epochs, history.test_acc_list, marker="s", markersize=4, linestyle="--",
                label="test acc")
    ax_acc.set(xlabel="epochs", ylabel="accuracy", ylim=(0, 1.0), title="accuracy")
    ax_acc.legend(loc="lower right")

    loss = np.asarray(history.train_loss_list)
    # 10000 losses are more than the plot has pixels across: draw the range of each group of
    # `step` as a band, which looks the same as the raw line and takes a third of the time.
    step = max(len(loss) // LOSS_BANDS, 1)
    groups = loss[:len(loss) // step * step].reshape(-1, step)
    if step > 1:
        ax_loss.fill_between(np.arange(len(groups)) * step + step / 2, groups.min(axis=1),
                             groups.max(axis=1), color="C0", alpha=0.3, linewidth=0,
                             label="mini-batch loss")
    else:  # with a marker, so that the loss of a one-iteration run shows
        ax_loss.plot(loss, color="C0", alpha=0.3, marker="." if len(loss) == 1 else None,
                     label="mini-batch loss")
    window = min(100, len(loss) // 2)  # at least two means for a line, in a short run too
    if window > 1:
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax_loss.plot(np.arange(window - 1, len(loss)), smooth, color="C0",
                     label=f"mean of the last {window}")
    ax_loss.set(xlabel="iterations", ylabel="loss", ylim=(0, None), title="mini-batch loss")
    if len(loss):
        ax_loss.legend(loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ch04.train_neuralnet",
        description="Train the book's two-layer network on MNIST by mini-batch SGD "
                    "and plot its accuracy (Deep Learning from Scratch, section 4.5).",
    )
    parser.add_argument("--iters", type=positive(int), default=ITERS,
                        help="number of SGD updates (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive(int), default=BATCH_SIZE,
                        help="images per mini-batch (default: %(default)s)")
    parser.add_argument("--lr", type=positive(float), default=LEARNING_RATE,
                        help="learning rate (default: %(default)s)")
    parser.add_argument("--hidden-size", type=positive(int), default=HIDDEN_SIZE,
                        help="hidden units (default: %(default)s)")
    parser.add_argument("--seed", type=random_seed, default=None,
                        help="random seed for the weights and mini-batches "
                             "(default: a fresh one, printed so the run can be repeated)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default=DTYPE,
                        help="precision to train in (default: %(default)s)")
    parser.add_argument("--grad", choices=["backprop", "numerical"], default=GRAD,
                        help="how to compute the gradient: backpropagation or the (slow) "
                             "numerical gradient (default: %(default)s)")
    parser.add_argument("--dataset", choices=list(dataset.datasets()), default=DATASET,
                        help="data to learn (default: %(default)s)")
    add_figure_options(parser, PLOT)
    parser.add_argument("--save-params", type=Path, metavar="FILE",
                        help="save the trained parameters to FILE (.npz), e.g. for "
                             "python -m ch04.inspect_net")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the summary at the end: no per-epoch lines, "
                             "no progress bar")
    args = parser.parse_args(argv)

    args.loader, args.spec = dataset.datasets()[args.dataset]
    if args.batch_size > args.spec.train_size:
        parser.error(f"argument --batch-size: {args.batch_size} is larger than the "
                     f"{args.dataset} training set ({args.spec.train_size} images)")
    too_much = memory_problem(args, physical_memory())
    if too_much:
        parser.error(too_much)
    check_figure_path(parser, args.plot, args.no_show)
    if args.save_params is not None:
        try:
            check_writable(args.save_params, "parameters file")
        except OSError as e:
            parser.error(f"--save-params {args.save_params}: {e}")
        if is_same_file(args.save_params, args.plot):
            parser.error(f"--save-params {args.save_params} is the --plot file too; "
                         f"give them different names")
    return args


def memory_problem(args, memory):
    """The error message for a run that won't fit in `memory` bytes, or None if it will (or if
    memory is None: not known)."""
    # The weights, their gradients, the copies training makes and the hidden layer of 1000
    # images at a time come to about 8 times the weights (2.5 GB were measured at 100,000 units).
    # A mini-batch adds its images and about 5 arrays of batch × hidden numbers (4.8 to 5.0
    # were measured at batches of 20,000 to 60,000), whatever the weights.
    weights = (args.spec.input_size + 1) * args.hidden_size + (args.hidden_size + 1) * len(
        args.spec.class_names)
    itemsize = np.dtype(args.dtype).itemsize
    for_weights = 8 * weights * itemsize
    per_image = (5 * args.hidden_size + args.spec.input_size) * itemsize
    if args.grad == "numerical":  # always float64: two (hidden, C, batch, C) arrays for W2's
        classes = len(args.spec.class_names)  # differences, and the (inputs, batch, C) scores
        per_image += 8 * classes * (2 * classes * args.hidden_size + args.spec.input_size + 1)
    for_batch = args.batch_size * per_image
    needed = for_weights + for_batch
    if memory is None or needed <= memory:
        return None
    # A float would overflow for a size of 400 digits.
    gigabytes = needed / 10**9 if needed < 10**300 else Decimal(needed) / 10**9
    if for_weights + per_image > memory:  # not even one image fits: a smaller batch won't do
        what = f"--hidden-size: {args.hidden_size} hidden units"
    else:
        what = f"--batch-size: {args.batch_size} images with {args.hidden_size} hidden units"
        what += " and --grad numerical" if args.grad == "numerical" else ""
    return (f"argument {what} need about {gigabytes:.3g} GB, more than this machine's "
            f"{memory / 1e9:.3g} GB")


def out_of_memory(when, error, options):
    """'out of memory WHEN: what NumPy could not allocate; try a smaller OPTIONS'."""
    what = f": {error}" if str(error) else ""  # NumPy's names the array; Python's own is empty
    return f"out of memory {when}{what}; try a smaller {options}"


def iterations(count):
    """'1 iteration', '2 iterations', ..."""
    return f"{count} iteration{'' if count == 1 else 's'}"


def physical_memory():
    """This machine's memory in bytes, or None where the OS doesn't say (e.g. Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def nothing_more_into(*paths):
    """Give the reader of each named pipe among `paths` (None for an option not given) the end
    of its input: nothing will be written there."""
    for path in paths:
        if path is not None:
            end_pipe(path)


def main(argv=None):
    """Run the book's training from the command line; returns the exit status.

    Ctrl-C while loading ends it through run_main; during training and saving, run() handles it.
    """
    args = parse_args(argv)
    try:
        return run(args)
    except BaseException:  # Ctrl-C while loading, or stdout's reader gone (| head): no more saving
        nothing_more_into(args.plot, args.save_params)
        raise


def run(args):
    from dataset import DatasetUnavailableError

    try:
        # uint8 pixels: train() scales them to [0, 1] a mini-batch at a time.
        (x_train, t_train), (x_test, t_test) = args.loader(normalize=False)
    except DatasetUnavailableError as e:
        print(e, file=sys.stderr)
        nothing_more_into(args.plot, args.save_params)
        return 1
    seed = secrets.randbelow(2**32) if args.seed is None else args.seed
    if not args.quiet:  # once there is a run to repeat
        print(f"seed {seed} (repeat this run with --seed {seed})")

    rng = np.random.default_rng(seed)
    try:
        network = TwoLayerNet(input_size=x_train.shape[1], hidden_size=args.hidden_size,
                              output_size=len(args.spec.class_names), rng=rng, dtype=args.dtype)
    except MemoryError as e:
        print(out_of_memory("for the weights", e, "--hidden-size"), file=sys.stderr)
        nothing_more_into(args.plot, args.save_params)
        return 1

    progress = not args.quiet and sys.stderr.isatty()

    def print_line(epoch, train_acc, test_acc):
        if args.quiet:
            return
        line = f"train acc, test acc | {train_acc}, {test_acc}"  # str(acc), as the book prints
        if progress:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stdout)  # above the progress bar, which it redraws
        else:
            print(line)
        sys.stdout.flush()  # each epoch as it comes, also through a pipe or into a file

    history = History()
    status, stopped = 0, ""
    start = time.perf_counter()
    try:
        train(network, x_train, t_train, x_test, t_test, iters=args.iters,
              batch_size=args.batch_size, lr=args.lr, grad=args.grad, rng=rng, history=history,
              on_epoch=print_line, progress=progress, evaluate_in_background=ONE_BLAS_THREAD)
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
        stopped = f"interrupted after {iterations(len(history.train_loss_list))}"
    except TrainingDiverged as e:
        status, stopped = 1, str(e)
    except MeasuringOutOfMemory as e:
        status, stopped = 1, out_of_memory("measuring accuracy", e, "--hidden-size")
    except MemoryError as e:
        status = 1
        stopped = out_of_memory(f"at iteration {len(history.train_loss_list)}", e,
                                "--batch-size or --hidden-size")
    elapsed = time.perf_counter() - start
    if stopped:
        print(stopped, file=sys.stderr)

    title = (f"{args.dataset}, hidden {args.hidden_size}, batch {args.batch_size}, "
             f"lr {args.lr:g}, {args.grad}, {args.dtype}, seed {seed}")
    done, trained = len(history.train_loss_list), status == 0
    final = []
    failed = {}  # what could not be saved (a full disk...) → the error; the rest still is
    # What was learned is saved even if Ctrl-C comes now: it then only ends the run afterwards.
    with interrupts_deferred() as interrupted, Evaluator(
            x_train, t_train, x_test, t_test, lambda *accuracies: final.extend(accuracies),
            ONE_BLAS_THREAD) as evaluator:
        # The book measures after iterations 0, 600, ..., 9600: the last 399 updates are not in
        # its lines. Measure the parameters as they are saved (while the plot is drawn).
        if trained and (done - 1) % history.iter_per_epoch != 0:
            evaluator.submit(network.params)
        want_windows(args.no_show)
        fig = plot_history(history, title)
        # With no iteration done, files of earlier runs are left as they were; a device or
        # named pipe is written into all the same, or its reader would wait forever.
        def wanted(path):
            return done or is_device_or_pipe(path)

        outputs = {}  # what → (where, how)
        if wanted(args.plot):
            outputs["plot"] = (args.plot, lambda path: save_figure(fig, path))
        if args.save_params is not None and status != 1 and wanted(args.save_params):
            outputs["parameters"] = (args.save_params, network.save)  # not those of a blow-up
        for what, (path, save) in outputs.items():
            try:
                save(path)
            except Exception as e:  # named below; raised at the end, if not an OSError
                failed[what] = e
        if "parameters" not in outputs:  # after the plot, which may go into the same pipe
            nothing_more_into(args.save_params)
        try:  # the measurement, after the files are saved
            evaluator.report_finished(wait=True)
        except MeasuringOutOfMemory as e:
            status, trained = 1, False  # no final accuracy: the last epoch's is from before
            print(out_of_memory("measuring accuracy after the last update", e, "--hidden-size"),
                  file=sys.stderr)
    if not done:  # a device or named pipe may have been written into, but no file replaced
        print("no iteration finished, so no file was replaced", file=sys.stderr)
    if interrupted and status == 0:
        status = EXIT_INTERRUPTED
        print("interrupted while saving; finished saving first", file=sys.stderr)
    for what, e in failed.items():  # on stderr first: stdout may be closed by now (| head)
        reason = (e.strerror or e) if isinstance(e, OSError) else f"{type(e).__name__}: {e}"
        path, _ = outputs[what]
        print(f"error: could not save the {what} to {path}: {reason}", file=sys.stderr)
    if failed and status == 0:
        status = 1

    try:
        each = f" ({elapsed / done * 1e3:.2f} ms each)" if done else ""
        print(f"{iterations(done)} in {elapsed:.1f} s{each}, seed {seed}")
        if trained:
            if not final:  # measured already, after the last update
                final = history.train_acc_list[-1], history.test_acc_list[-1]
            print(f"final accuracy: train {final[0]:.4f}, test {final[1]:.4f}")
        for what, (path, _) in outputs.items():
            if what not in failed:
                print(f"{what} saved to {path.resolve()}")
        sys.stdout.flush()  # a reader that has gone (| head) or a full disk shows here
    except BaseException:  # ...or Ctrl-C: the figure is closed, and no window opens
        show_figure(fig, no_show=True)
        raise
    show_figure(fig, args.no_show or status != 0)  # and closes it, also after a failed run
    for e in failed.values():
        if not isinstance(e, OSError):  # not a full disk but a mistake in the code: its traceback
            raise e
    return status


if __name__ == "__main__":
    run_main(main)
