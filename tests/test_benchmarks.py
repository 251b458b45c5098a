"""The numbers `python -m benchmarks.train` reports, and the algorithm its two contenders run.

Nothing is timed here: the timed runs, the clock and the matrix-product speed are faked, and the
contenders (benchmarks/book_style.py and benchmarks/torch_style.py) run a few iterations on tiny
made-up data. The benchmark's options and its order of runs are tested in test_cli.py."""

import os
import subprocess
import sys
import types

import numpy as np
import pytest

import dataset.mnist
from benchmarks import book_style, torch_style, train
from ch04.two_layer_net import TwoLayerNet

OURS, BOOK, TORCH = "ch04.train_neuralnet", "benchmarks.book_style", "benchmarks.torch_style"


def fake_clock(monkeypatch, *durations):
    """benchmarks.train's clock, faked: the timed calls, each reading it at its start and its
    end, take `durations` seconds in turn."""
    readings, now = [], 100.0
    for duration in durations:
        readings += [now, now + duration]
        now += duration + 1.0
    readings = iter(readings)
    monkeypatch.setattr(train, "time", types.SimpleNamespace(perf_counter=lambda: next(readings)))


def epoch_lines(test_accuracies):
    """A contender's stdout: the book's line for each epoch (train accuracies different)."""
    return "".join(f"train acc, test acc | {test + 0.02}, {test}\n" for test in test_accuracies)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss faked in KiB, as on Linux")
def test_a_timed_run_gives_its_wall_time_in_seconds_and_its_peak_rss_in_mib(tmp_path,
                                                                             monkeypatch):
    real_wait4 = os.wait4

    def wait4(pid, options):  # the child's own status, and a max RSS of 153 MiB in KiB (Linux)
        _, status, _ = real_wait4(pid, options)
        return pid, status, types.SimpleNamespace(ru_maxrss=153 * 1024)

    monkeypatch.setattr(train.os, "wait4", wait4)
    fake_clock(monkeypatch, 2.5)
    assert train.timed_run(["-c", "print('done')"], tmp_path, dict(os.environ)) == (
        2.5, 153.0, "done\n")


@pytest.mark.parametrize("seconds, shown", [(2.8, "2.8 s"), (119.9, "119.9 s"),
                                            (180, "3.0 minutes"), (3599, "60.0 minutes"),
                                            (5090, "1.4 hours"), (21_600, "6.0 hours")])
def test_a_run_of_the_books_10000_iterations_is_given_in_a_readable_unit(seconds, shown):
    assert train.duration(seconds) == shown


def test_the_benchmarks_curve_is_the_test_accuracies_of_the_books_lines():
    stdout = ("seed 0 (repeat this run with --seed 0)\n"
              "train acc, test acc | 0.1, 0.2\ntrain acc, test acc | 0.93, 0.9452\n"
              "10000 iterations in 3.2 s (0.32 ms each), seed 0\n")
    assert train.curve(stdout) == [0.2, 0.9452]


def test_the_benchmarks_flop_count_is_the_books_run():
    # Per example, a multiply-add counting 2: forward x @ W1 and z1 @ W2; backward x.T @ da1,
    # z1.T @ dy and dy @ W2.T. 10,000 batches of 100, and accuracy after iterations 0, 600, ...,
    # 9600 (17 times) on all 60,000 training and 10,000 test images.
    forward = 2 * (784 * 50 + 50 * 10)
    backward = 2 * (784 * 50 + 50 * 10 + 10 * 50)
    assert train.run_flops() == (10_000 * 100 * (forward + backward),
                                 17 * (60_000 + 10_000) * forward)


def test_the_matrix_product_speed_is_2mkn_flops_over_the_median_time(monkeypatch):
    fake_clock(monkeypatch, 0.002, 0.001, 0.5)  # a slow spell in the last: the mean is 0.167 s
    assert train.sgemm_gflops(2, 3, 4, repeats=3) == pytest.approx(2 * 2 * 3 * 4 / 0.002 / 1e9)


@pytest.fixture
def checks_pass(monkeypatch):
    """The benchmark's checks before it times anything pass: python -m dataset.mnist works, and
    so does python -c "import torch"."""
    monkeypatch.setattr(train.subprocess, "run",
                        lambda args, **kwargs: subprocess.CompletedProcess(args, 0, "", ""))


def test_the_benchmarks_training_table_shows_medians_and_ratios_to_ours(checks_pass, monkeypatch,
                                                                        capsys):
    base = [0.5 + 0.025 * epoch for epoch in range(17)]
    book = list(base)
    book[5] += 0.008  # the largest gap is where the book-style run is ahead of ours
    book[10] -= 0.002
    runs = {  # module → its three rounds: (wall seconds, max RSS in MiB, test accuracies)
        OURS: [(3.2, 150.0, base), (3.4, 154.0, [a + 0.001 for a in base]),
               (9.0, 190.0, [a + 0.05 for a in base])],  # a slow round, at odds with the rest
        BOOK: [(12.6, 725.0, book), (13.1, 700.0, book), (12.5, 731.0, [a - 0.1 for a in book])],
        TORCH: [(7.35, 553.0, [a - 0.004 for a in base])] * 3,
    }
    rounds = {module: iter(results) for module, results in runs.items()}

    def fake_run(args, cwd, env):
        wall, rss, accuracies = next(rounds[args[1]])
        return wall, rss, epoch_lines(accuracies)

    monkeypatch.setattr(train, "timed_run", fake_run)
    speeds = {(10_000, 784, 50): 212.0, (2048, 2048, 2048): 361.0}
    monkeypatch.setattr(train, "sgemm_gflops", lambda m, k, n: speeds[m, k, n])
    assert train.main(["--rounds", "3", "--skip-numerical"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "The book's run, 3 rounds interleaved, medians:" in lines
    # medians 3.4 s and 154 MiB for ours; 12.6 / 3.4 = 3.71, 154 / 725 = 0.21, ...
    assert [line for line in lines if line.startswith("| ") and "`" in line] == [
        "| dlfs (`python -m ch04.train_neuralnet`) | 3.40 s | 1.00× | 154 MiB | 1.00× | 0.9010 |",
        "| book-style NumPy (`benchmarks/book_style.py`) | 12.60 s | 3.71× | 725 MiB | 0.21× "
        "| 0.9000 |",
        "| PyTorch eager, CPU (`benchmarks/torch_style.py`) | 7.35 s | 2.16× | 553 MiB | 0.28× "
        "| 0.8960 |",
    ]
    # ours minus the book-style run: 0.001 - 0.008 at epoch 5 (+0.003 at most elsewhere)
    assert [line for line in lines if line.startswith("Per-epoch")] == [
        "Per-epoch test accuracy, ours minus book-style NumPy: largest gap 0.70 points "
        "(medians over the rounds, 17 epochs)",
        "Per-epoch test accuracy, ours minus PyTorch eager, CPU: largest gap 0.50 points "
        "(medians over the rounds, 17 epochs)",
    ]
    # 159.8 + 94.486 GFLOP; 254.286 / 212 = 1.20 s, 3.4 / 1.1995 = 2.83; / 361 = 0.70 s, 4.83
    assert "FLOP floor: 160 GFLOP of training + 94 GFLOP of evaluation = 254 GFLOP." in lines
    assert ("- at the 212 GFLOP/s of the evaluation's shape (10000 × 784 × 50, float32): "
            "1.20 s; ours takes 2.83× that.") in lines
    assert ("- at the 361 GFLOP/s of a large square product (2048 × 2048 × 2048, float32): "
            "0.70 s; ours takes 4.83× that.") in lines


def test_the_benchmarks_numerical_gradient_tables_show_medians_and_ratios(checks_pass, monkeypatch,
                                                                           capsys):
    monkeypatch.setattr(train, "benchmark_numerical_gradient",
                        lambda repeats: ({"fast": 0.479, "plain": 10.93}, 5.2e-9))
    timed = []

    def seconds_per_iteration(grad, iters):
        timed.append((grad, iters))
        return {"backprop": 0.00028, "numerical": 0.509}[grad]

    monkeypatch.setattr(train, "seconds_per_iteration", seconds_per_iteration)
    assert train.main(["--skip-training"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert timed == [("backprop", 2000), ("numerical", 3)]
    assert [line for line in lines if line.startswith(("| plain", "| `TwoLayerNet"))] == [
        "| plain loop over all 39,760 parameters (`common.gradient`) | 10.93 s | 1× |",
        "| `TwoLayerNet.numerical_gradient` | 0.479 s | 22.8× faster |",  # 10.93 / 0.479
    ]
    assert ("Largest difference between the two, relative to each parameter's largest entry: "
            "5.2e-09, within the 1e-6 asked for.") in lines
    assert [line for line in lines if line.startswith(("| backprop", "| numerical"))] == [
        "| backprop | 0.28 ms | 2.8 s |",
        "| numerical | 509.00 ms | 1.4 hours |",  # 0.509 s × 10,000 = 5090 s
    ]


def test_seconds_per_iteration_is_the_median_of_what_the_script_reports(monkeypatch):
    reported = iter(["509.12", "480.00", "2000.00"])  # ms each; one run at a slow spell
    started = []

    def fake_run(args, cwd, env):
        started.append(args)
        return 1.0, 100.0, (f"3 iterations in 1.5 s ({next(reported)} ms each), seed 0\n"
                            "final accuracy: train 0.1000, test 0.1000\n")

    monkeypatch.setattr(train, "timed_run", fake_run)
    assert train.seconds_per_iteration("numerical", 3) == pytest.approx(0.50912)
    assert len(started) == 3
    for args in started:
        assert args[:2] == ["-m", OURS]
        assert args[args.index("--grad") + 1] == "numerical"
        assert args[args.index("--iters") + 1] == "3"


@pytest.fixture
def tiny_mnist(monkeypatch):
    """benchmarks.train's numerical gradient on a net of 6-4-3 and batches of 5, from 20 made-up
    float32 images (as load_mnist gives them), so that the plain loop takes no time."""
    for name, size in [("INPUT", 6), ("HIDDEN", 4), ("OUTPUT", 3), ("BATCH", 5)]:
        monkeypatch.setattr(train, name, size)
    rng = np.random.default_rng(1)
    x, t = rng.random((20, 6), dtype=np.float32), rng.integers(3, size=20)
    monkeypatch.setattr(dataset.mnist, "load_mnist", lambda: ((x, t), (x[:5], t[:5])))


def test_the_numerical_gradient_benchmark_times_float64_and_gives_medians(tiny_mnist,
                                                                          monkeypatch):
    losses = []  # the plain loop's calls: the net's dtype and that of the batch it is given
    loss = TwoLayerNet.loss

    def recorded_loss(self, x, t):
        losses.append((self.dtype, np.asarray(x).dtype))
        return loss(self, x, t)

    monkeypatch.setattr(TwoLayerNet, "loss", recorded_loss)
    fake_clock(monkeypatch, 0.5, 11.0, 0.4, 10.9, 3.0, 10.0)  # fast, plain; fast, plain; ...
    times, error = train.benchmark_numerical_gradient(3)
    assert times == pytest.approx({"fast": 0.5, "plain": 10.9})
    assert error <= 1e-6
    # A float64 batch: a float32 one would be converted in every one of the plain loop's calls.
    assert set(losses) == {(np.dtype(np.float64), np.dtype(np.float64))}


def test_the_numerical_gradient_benchmark_finds_a_wrong_fast_method(tiny_mnist, monkeypatch):
    fast = TwoLayerNet.numerical_gradient
    monkeypatch.setattr(TwoLayerNet, "numerical_gradient",  # 1.5 times the gradient
                        lambda self, x, t: {k: 1.5 * v for k, v in fast(self, x, t).items()})
    _, error = train.benchmark_numerical_gradient(1)
    assert error == pytest.approx(0.5, rel=1e-4)


def one_hot_digits(n, rng):
    return np.eye(10, dtype=np.float32)[rng.integers(10, size=n)]


def made_up_images(n, rng):
    return rng.random((n, 784), dtype=np.float32)  # all different


@pytest.fixture
def book_nets(monkeypatch):
    """The BookTwoLayerNets that book_style.train makes from now on, each recording its steps
    (batch, parameters before, gradient), its losses (parameters then, loss) and the number of
    images of each accuracy measurement."""
    made = []

    class Recorded(book_style.BookTwoLayerNet):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps, self.losses, self.measured = [], [], []
            made.append(self)

        def params_now(self):
            return {name: value.copy() for name, value in self.params.items()}

        def gradient(self, x, t):
            grad = super().gradient(x, t)
            self.steps.append((x.copy(), self.params_now(), grad))
            return grad

        def loss(self, x, t):
            value = super().loss(x, t)
            self.losses.append((self.params_now(), value))
            return value

        def accuracy(self, x, t):
            self.measured.append(len(x))
            return super().accuracy(x, t)

    monkeypatch.setattr(book_style, "BookTwoLayerNet", Recorded)
    return made


@pytest.fixture
def torch_models(monkeypatch):
    """The models that torch_style.train makes from now on, each recording its forward passes
    (input, with gradients?, parameters then) and its parameters' gradients (name → list)."""
    torch = pytest.importorskip("torch")
    made = []

    class Recorded(torch.nn.Sequential):
        def __init__(self, *layers):
            super().__init__(*layers)
            self.forwards, self.grads = [], {}
            made.append(self)
            for name, parameter in self.named_parameters():
                parameter.register_hook(
                    lambda grad, name=name: self.grads.setdefault(name, []).append(grad.clone()))

        def params_now(self):
            return {name: p.detach().clone() for name, p in self.named_parameters()}

        def forward(self, x):
            self.forwards.append((x.clone(), torch.is_grad_enabled(), self.params_now()))
            return super().forward(x)

    monkeypatch.setattr(torch.nn, "Sequential", Recorded)
    return made


def train_book_style(train_size, iters, seed=0):
    rng = np.random.default_rng(seed)
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        return book_style.train(made_up_images(train_size, rng), one_hot_digits(train_size, rng),
                                made_up_images(50, rng), one_hot_digits(50, rng), iters=iters,
                                log=lambda line: None)
    finally:
        np.random.set_state(state)


def train_torch_style(train_size, iters, seed=0):
    import torch

    rng = np.random.default_rng(seed)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return torch_style.train(made_up_images(train_size, rng),
                                 rng.integers(10, size=train_size, dtype=np.uint8),
                                 made_up_images(50, rng), rng.integers(10, size=50), iters=iters,
                                 log=lambda line: None)
    finally:
        torch.random.set_rng_state(state)


def test_the_book_style_contender_runs_the_books_algorithm(book_nets):
    # 200 training images: an epoch is 2 batches of 100
    loss_list, train_acc, test_acc = train_book_style(200, iters=5)
    [net] = book_nets
    assert {name: value.shape for name, value in net.params.items()} == {
        "W1": (784, 50), "b1": (50,), "W2": (50, 10), "b2": (10,)}
    assert all(value.dtype == np.float64 for value in net.params.values())
    assert net.predict(made_up_images(3, np.random.default_rng(0))).dtype == np.float64
    assert len(net.steps) == 5
    assert all(len(x) == 100 for x, _, _ in net.steps)
    # Drawn with replacement: a batch of 100 from 200 images repeats some, almost surely.
    assert any(len(np.unique(x, axis=0)) < 100 for x, _, _ in net.steps)
    # Accuracy on the full sets after iterations 0, 2 and 4 (every epoch, from the first).
    assert net.measured == [200, 50] * 3 and len(train_acc) == len(test_acc) == 3
    # SGD with lr 0.1, and a second forward pass after each update for the loss it records.
    after = [params for _, params, _ in net.steps[1:]] + [net.params_now()]
    assert len(net.losses) == 5
    for (_, before, grad), updated, (loss_params, _) in zip(net.steps, after, net.losses,
                                                            strict=True):
        for name in before:
            np.testing.assert_array_equal(updated[name], before[name] - 0.1 * grad[name])
            np.testing.assert_array_equal(loss_params[name], updated[name])
    assert loss_list == [loss for _, loss in net.losses]


def test_the_pytorch_contender_runs_the_books_algorithm(torch_models):
    import torch

    _, train_acc, test_acc = train_torch_style(200, iters=5)
    [model] = torch_models
    assert [type(layer).__name__ for layer in model] == ["Linear", "Sigmoid", "Linear"]
    assert (model[0].in_features, model[0].out_features) == (784, 50)
    assert (model[2].in_features, model[2].out_features) == (50, 10)
    # Accuracy on the full sets after iterations 0, 2 and 4 (every epoch, from the first).
    assert [(len(x), training) for x, training, _ in model.forwards] == (
        [(100, True), (200, False), (50, False), (100, True)] * 2 + [(100, True), (200, False),
                                                                     (50, False)])
    assert len(train_acc) == len(test_acc) == 3
    steps = [(x, params) for x, training, params in model.forwards if training]
    # Drawn with replacement: a batch of 100 from 200 images repeats some, almost surely.
    assert any(len(torch.unique(x, dim=0)) < 100 for x, _ in steps)
    # The book's initialisation: weights of standard deviation 0.01, biases 0.
    first = steps[0][1]
    assert 0.009 < float(first["0.weight"].std()) < 0.011
    assert 0.008 < float(first["2.weight"].std()) < 0.012
    assert not first["0.bias"].any() and not first["2.bias"].any()
    # Plain SGD with lr 0.1.
    after = [params for _, params in steps[1:]] + [model.params_now()]
    for i, ((_, before), updated) in enumerate(zip(steps, after, strict=True)):
        for name in before:
            # in float32: the update, to within a rounding of the parameter
            torch.testing.assert_close(updated[name] - before[name], -0.1 * model.grads[name][i],
                                       rtol=1e-3, atol=1e-8)


def test_the_book_style_contender_measures_accuracy_on_every_image(book_nets):
    # More training images than the test set has: no slice of 10,000 will do.
    train_book_style(10_001, iters=1)
    [net] = book_nets
    assert net.measured == [10_001, 50]


def test_the_pytorch_contender_measures_accuracy_on_every_image(torch_models):
    train_torch_style(10_001, iters=1)
    [model] = torch_models
    assert [len(x) for x, training, _ in model.forwards if not training] == [10_001, 50]


def run_contender(contender, labels, first_draw, monkeypatch, tmp_path):
    """contender.main(["--seed", "3"]) with load_mnist and train faked → what they were called
    with: load_mnist's and train's keywords, and first_draw() as train began."""
    called = {}
    x = np.random.default_rng(0).random((len(labels), 784), dtype=np.float32)

    def load_mnist(**kwargs):
        called["load_mnist"] = kwargs
        return (x, labels), (x, labels)

    def fake_train(*data, **kwargs):
        called["train"] = kwargs
        called["first draw"] = first_draw()
        return [], [0.1], [0.1]

    monkeypatch.setattr(dataset.mnist, "load_mnist", load_mnist)
    monkeypatch.setattr(contender, "train", fake_train)
    monkeypatch.setattr(book_style, "plot", lambda *args: None)
    assert contender.main(["--seed", "3", "--plot", str(tmp_path / "p.png")]) == 0
    return called


def test_the_book_style_contender_runs_10000_iterations_of_one_hot_mnist(monkeypatch, tmp_path):
    state = np.random.get_state()
    try:
        called = run_contender(book_style, one_hot_digits(5, np.random.default_rng(0)),
                               np.random.random, monkeypatch, tmp_path)
    finally:
        np.random.set_state(state)
    assert called["load_mnist"] == {"normalize": True, "one_hot_label": True}
    assert called["train"] == {"iters": 10_000}  # lr, batch and hidden size: train's defaults
    assert called["first draw"] == np.random.RandomState(3).random_sample()


def test_the_pytorch_contender_runs_10000_iterations_of_mnist(monkeypatch, tmp_path):
    torch = pytest.importorskip("torch")
    state = torch.random.get_rng_state()
    try:
        labels = np.random.default_rng(0).integers(10, size=5, dtype=np.uint8)
        called = run_contender(torch_style, labels, lambda: torch.rand(1).item(), monkeypatch,
                               tmp_path)
        torch.manual_seed(3)
        expected = torch.rand(1).item()
    finally:
        torch.random.set_rng_state(state)
    assert called["load_mnist"] == {"normalize": True}
    assert called["train"] == {"iters": 10_000}  # lr, batch and hidden size: train's defaults
    assert called["first draw"] == expected
