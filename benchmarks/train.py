"""Benchmark: the book's run, ours against a plain NumPy version and PyTorch, and the numerical
gradient against the plain loop. Prints Markdown tables.

    python -m benchmarks.train                  # everything, 3 interleaved rounds (~3 minutes)
    python -m benchmarks.train --rounds 5 --skip-numerical

Each training run is a separate process started the way a user starts it, with the plot saved
and no window. The runs are interleaved, each round starting with the next one (ours, book-style,
PyTorch; book-style, PyTorch, ours; ...), so that a slow spell of the machine doesn't fall on one
contender only, and the table shows medians and the ratios of the medians. Peak memory is each
process's max RSS, from os.wait4. PyTorch is timed only when `import torch` works; it is never a
dependency of dlfs.

The FLOP floor is the algorithm's multiply-adds, forward and backward for 10000 batches of 100
plus the 17 accuracy passes over 70000 images (the book's code does 79 GFLOP more: a second
forward pass per batch, for the loss it records), divided by this machine's float32
matrix-product speed, measured here twice: on a product of the evaluation's shape, the 10000 test
images at once (10000 × 784 by 784 × 50), and on a large square one, which BLAS runs faster. Both
are faster per FLOP than the training's products of 100 images, so the floor is, if anything,
too low.

Ours runs one BLAS thread and measures accuracy in a second thread; the other two use every
core through their BLAS. Other work on the machine slows them differently, so the Machine line
gives the load average at the start: above about 0.5, the times are not worth comparing.

The numerical gradient's plain loop is common.gradient.numerical_gradient, the book's
one-element-at-a-time loop, over the same loss as the fast method's, TwoLayerNet.loss.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common.cli import positive, random_seed, run_main

# getrusage's ru_maxrss is in KiB on Linux and in bytes on macOS.
MAXRSS_PER_MIB = 2**20 if sys.platform == "darwin" else 2**10
LINE = re.compile(r"^train acc, test acc \| ([\d.]+), ([\d.]+)$", re.MULTILINE)
INPUT, HIDDEN, OUTPUT, BATCH, ITERS, TRAIN, TEST = 784, 50, 10, 100, 10_000, 60_000, 10_000


def timed_run(args, cwd, env):
    """Run `python args...` in cwd → (wall seconds, the child's max RSS in MiB, stdout).

    On Linux a child's max RSS starts from its parent's highest RSS so far (recorded at fork and
    exec), so this process must stay small until the training runs are done: main() loads MNIST
    in a child of its own, and the numerical gradient, which loads it here, comes last.

    Raises ChildProcessError, with the end of the child's stderr, if it fails.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=out, stderr=err,
                                   env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise ChildProcessError(f"python {' '.join(args)} failed with status "
                                f"{process.returncode}:\n{stderr[-2000:]}")
    return wall, usage.ru_maxrss / MAXRSS_PER_MIB, stdout


def child_environment():
    """os.environ for a child run from another folder: Agg, and this checkout on the path."""
    root = str(Path(__file__).resolve().parents[1])  # for `-m benchmarks...` from another folder
    python_path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=python_path)


def curve(stdout):
    """The test accuracies of the printed `train acc, test acc | a, b` lines."""
    return [float(test) for _, test in LINE.findall(stdout)]


def benchmark_training(rounds, seed, with_torch):
    contenders = {
        "dlfs (`python -m ch04.train_neuralnet`)":
            ["-m", "ch04.train_neuralnet", "--no-show", "--seed", str(seed), "--plot", "ours.png"],
        "book-style NumPy (`benchmarks/book_style.py`)":
            ["-m", "benchmarks.book_style", "--seed", str(seed), "--plot", "book.png"],
    }
    if with_torch:
        contenders["PyTorch eager, CPU (`benchmarks/torch_style.py`)"] = [
            "-m", "benchmarks.torch_style", "--seed", str(seed), "--plot", "torch.png"]
    results = {name: [] for name in contenders}
    env = child_environment()
    with tempfile.TemporaryDirectory() as tmp:
        names = list(contenders)
        for r in range(rounds):
            # Each round starts with the next contender, so that none is always first (cold).
            for name in names[r % len(names):] + names[:r % len(names)]:
                args = contenders[name]
                wall, rss, stdout = timed_run(args, tmp, env)
                accuracies = curve(stdout)
                results[name].append((wall, rss, accuracies))
                print(f"round {r + 1}/{rounds}: {name.split(' (')[0]}: {wall:.2f} s, "
                      f"{rss:.0f} MiB, test acc {accuracies[-1]:.4f}", file=sys.stderr)
    return results


def why_torch_fails(timeout=300):
    """Why `import torch` fails here (its error's last line), or "" if it works. Tried in a
    child, so that a broken install fails there and torch stays out of this process."""
    try:
        result = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True,
                                text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"it took more than {timeout} s"
    if result.returncode == 0:
        return ""
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else f"status {result.returncode}"


def sgemm_gflops(m, k, n, repeats=15):
    """This machine's float32 matrix-product speed for (m, k) @ (k, n), in GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.random((m, k), dtype=np.float32)
    b = rng.random((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - start)
    return 2 * m * k * n / statistics.median(times) / 1e9


def run_flops():
    """Floating-point operations of the book's run (a multiply-add counts as 2)."""
    forward = 2 * (INPUT * HIDDEN + HIDDEN * OUTPUT)  # per example
    backward = forward + 2 * OUTPUT * HIDDEN  # dW1 = x.T @ da1, dW2 = z1.T @ da2, dz1 = da2 @ W2.T
    train = ITERS * BATCH * (forward + backward)
    evaluations = len(range(0, ITERS, TRAIN // BATCH)) * (TRAIN + TEST) * forward
    return train, evaluations


def benchmark_numerical_gradient(repeats):
    """Median seconds of TwoLayerNet.numerical_gradient and of the plain loop on a mini-batch of
    MNIST, and their largest difference relative to the largest gradient entry."""
    from ch04.two_layer_net import TwoLayerNet
    from common.gradient import numerical_gradient
    from dataset.mnist import load_mnist

    (x_train, t_train), _ = load_mnist()
    rng = np.random.default_rng(0)
    batch_mask = rng.integers(len(x_train), size=BATCH)
    x, t = x_train[batch_mask].astype(np.float64), t_train[batch_mask]
    net = TwoLayerNet(INPUT, HIDDEN, OUTPUT, rng=rng)  # float64, as the book

    def plain_loop():
        return {name: numerical_gradient(lambda _: net.loss(x, t), value)
                for name, value in net.params.items()}

    grads, times = {}, {"fast": [], "plain": []}
    methods = {"fast": lambda: net.numerical_gradient(x, t), "plain": plain_loop}
    for _ in range(repeats):  # interleaved
        for kind, compute in methods.items():
            start = time.perf_counter()
            grads[kind] = compute()
            times[kind].append(time.perf_counter() - start)
    error = largest_difference(grads["fast"], grads["plain"])
    return {kind: statistics.median(values) for kind, values in times.items()}, error


def largest_difference(fast, plain):
    """The largest |fast - plain| of any parameter, relative to that parameter's largest |plain|
    (absolute where that is 0); NaN if any is (np.max, not max, which may drop a NaN)."""
    return np.max([np.max(np.abs(fast[name] - plain[name])) / (np.max(np.abs(plain[name])) or 1)
                   for name in plain])


def seconds_per_iteration(grad, iters, repeats=3):
    """Seconds per iteration of `python -m ch04.train_neuralnet --grad grad --iters iters`, as the
    script itself reports them (in float32, measuring accuracy in the background); the median of
    `repeats` runs."""
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            _, _, stdout = timed_run(
                ["-m", "ch04.train_neuralnet", "--grad", grad, "--iters", str(iters), "--seed",
                 "0", "--quiet", "--no-show", "--plot", "grad.png"], tmp, child_environment())
            seconds.append(float(re.search(r"\(([\d.]+) ms each\)", stdout)[1]) / 1e3)
    return statistics.median(seconds)


def duration(seconds):
    """'2.8 s', '4.5 minutes' or '1.4 hours'."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} minutes"
    return f"{seconds / 3600:.1f} hours"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=positive(int), default=3,
                        help="runs of each (default: 3)")
    parser.add_argument("--seed", type=random_seed, default=0)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-numerical", action="store_true")
    parser.add_argument("--numerical-repeats", type=positive(int), default=3)
    args = parser.parse_args(argv)

    # Fetch and cache MNIST first, so that no run pays for that; in a child process, so that this
    # one stays small: a child's max RSS starts from this process's highest (see timed_run).
    fetch = subprocess.run([sys.executable, "-m", "dataset.mnist"], capture_output=True,
                           text=True)
    if fetch.returncode != 0:  # no MNIST here: the loader says why, and what to do
        print(fetch.stderr, end="", file=sys.stderr)
        return 1
    try:
        load = f", load average {os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):  # Windows has none; elsewhere it may be unavailable
        load = ""
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, NumPy {np.__version__}; "
          f"{time.strftime('%Y-%m-%d')}{load}\n")

    status = 0
    if not args.skip_training:
        torch_missing = why_torch_fails()
        results = benchmark_training(args.rounds, args.seed, with_torch=not torch_missing)
        ours_name = next(iter(results))
        ours_wall = statistics.median(w for w, _, _ in results[ours_name])
        ours_rss = statistics.median(r for _, r, _ in results[ours_name])
        rounds = f"{args.rounds} rounds interleaved, medians" if args.rounds > 1 else "1 round"
        print(f"The book's run, {rounds}:\n")
        print("| run | wall time | ours is faster by | peak RSS | ours uses "
              "| test acc, last epoch |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, runs in results.items():
            wall = statistics.median(w for w, _, _ in runs)
            rss = statistics.median(r for _, r, _ in runs)
            acc = statistics.median(c[-1] for _, _, c in runs)
            print(f"| {name} | {wall:.2f} s | {wall / ours_wall:.2f}× | {rss:.0f} MiB | "
                  f"{ours_rss / rss:.2f}× | {acc:.4f} |")
        if torch_missing:
            print(f"\nPyTorch is not timed: `import torch` fails here ({torch_missing}).")
        ours_curve = np.median([c for _, _, c in results[ours_name]], axis=0)
        for name, runs in list(results.items())[1:]:
            other = np.median([c for _, _, c in runs], axis=0)
            print(f"\nPer-epoch test accuracy, ours minus {name.split(' (')[0]}: largest gap "
                  f"{np.max(np.abs(ours_curve - other)) * 100:.2f} points "
                  f"({'medians over the rounds' if args.rounds > 1 else '1 round'}, "
                  f"{len(other)} epochs)")

        train_flops, eval_flops = run_flops()
        flops = train_flops + eval_flops
        print(f"\nFLOP floor: {train_flops / 1e9:.0f} GFLOP of training + "
              f"{eval_flops / 1e9:.0f} GFLOP of evaluation = {flops / 1e9:.0f} GFLOP.")
        for shape, what in (((10_000, INPUT, HIDDEN), "the evaluation's shape"),
                            ((2048, 2048, 2048), "a large square product")):
            gflops = sgemm_gflops(*shape)
            floor = flops / gflops / 1e9
            print(f"- at the {gflops:.0f} GFLOP/s of {what} ({' × '.join(map(str, shape))}, "
                  f"float32): {floor:.2f} s; ours takes {ours_wall / floor:.2f}× that.")

    if not args.skip_numerical:
        times, error = benchmark_numerical_gradient(args.numerical_repeats)
        runs = (f"{args.numerical_repeats} runs each, medians" if args.numerical_repeats > 1
                else "1 run each")
        print(f"\nNumerical gradient of TwoLayerNet 784-50-10, batch 100, float64, {runs}:\n")
        print("| method | time per call | ratio |")
        print("|---|---:|---:|")
        print(f"| plain loop over all 39,760 parameters (`common.gradient`) | "
              f"{times['plain']:.2f} s | 1× |")
        print(f"| `TwoLayerNet.numerical_gradient` | {times['fast']:.3f} s | "
              f"{times['plain'] / times['fast']:.1f}× faster |")
        within = error <= 1e-6  # False for NaN
        verdict = "within" if within else "NOT within"
        print(f"\nLargest difference between the two, relative to each parameter's largest "
              f"entry: {error:.1e}, {verdict} the 1e-6 asked for.")
        if not within:  # a wrong fast method: its speed means nothing
            status = 1
        backprop = seconds_per_iteration("backprop", 2000)
        numerical = seconds_per_iteration("numerical", 3)
        print("\nTraining with each gradient, per iteration, as `python -m ch04.train_neuralnet "
              "--grad ...` reports it (medians of 3 runs):\n")
        print("| `--grad` | per iteration | the book's 10000 iterations |")
        print("|---|---:|---:|")
        for name, seconds in (("backprop", backprop), ("numerical", numerical)):
            print(f"| {name} | {seconds * 1e3:.2f} ms | {duration(seconds * ITERS)} |")
    return status


if __name__ == "__main__":
    run_main(main)
