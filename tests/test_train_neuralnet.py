"""The training loop and its command line, on small synthetic data (the real run is in
test_end_to_end.py)."""

import dataclasses
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

import dataset
from ch04 import train_neuralnet
from ch04.train_neuralnet import (
    BLAS_THREADS,
    Evaluator,
    History,
    MeasuringOutOfMemory,
    TrainingDiverged,
    accuracy,
    main,
    plot_history,
    train,
)
from ch04.two_layer_net import TwoLayerNet
from common.cli import run_main, sigterm_as_ctrl_c
from dataset import scale_pixels

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def blobs(n, num_features=20, num_classes=3, seed=0, spread=0.35):
    """n points around num_classes fixed centres in [0, 1]^num_features → (x float32, t int)."""
    centres = np.random.default_rng(1000).random((num_classes, num_features))
    rng = np.random.default_rng(seed)
    t = rng.integers(num_classes, size=n)
    x = centres[t] + spread * rng.standard_normal((n, num_features))
    return x.astype(np.float32), t


@pytest.fixture
def small_data():
    return (*blobs(600, seed=1), *blobs(200, seed=2))


def test_train_learns_a_small_synthetic_problem(small_data):
    net = TwoLayerNet(20, 10, 3, rng=0, dtype=np.float32)
    history = train(net, *small_data, iters=300, batch_size=20, lr=0.5, rng=1)
    assert history.test_acc_list[0] < 0.5  # about a third: a guess among 3 classes
    assert history.test_acc_list[-1] > 0.9
    assert np.mean(history.train_loss_list[-30:]) < 0.5 * np.mean(history.train_loss_list[:30])


def test_history_has_a_loss_per_iteration_and_an_accuracy_per_epoch(small_data):
    net = TwoLayerNet(20, 10, 3, rng=0)
    history = train(net, *small_data, iters=95, batch_size=20, lr=0.5, rng=1)
    assert history.iter_per_epoch == 600 // 20
    assert len(history.train_loss_list) == 95
    # As in the book: measured after iterations 0, 30, 60 and 90.
    assert len(history.train_acc_list) == len(history.test_acc_list) == 4


def test_a_float32_runs_history_holds_python_floats(small_data):
    # So that it can be written as JSON, say: NumPy's float32 losses could not.
    history = train(TwoLayerNet(20, 10, 3, rng=0, dtype=np.float32), *small_data, iters=35,
                    batch_size=20, lr=0.5, rng=1)
    record = dataclasses.asdict(history)
    assert json.loads(json.dumps(record)) == record


@pytest.mark.parametrize("n, batch_size, iter_per_epoch", [(610, 20, 30), (10, 20, 1)])
def test_an_epoch_is_the_whole_batches_that_fit_and_at_least_one(n, batch_size, iter_per_epoch):
    x, t = blobs(n)
    history = train(TwoLayerNet(20, 5, 3, rng=0), x, t, x, t, iters=3, batch_size=batch_size,
                    rng=1)
    assert history.iter_per_epoch == iter_per_epoch
    assert len(history.train_loss_list) == 3


def record_batches(monkeypatch):
    """Make TwoLayerNet.loss_and_gradient note each mini-batch's first column → the list."""
    batches, real = [], TwoLayerNet.loss_and_gradient

    def noted(self, x, t):
        batches.append(np.asarray(x)[:, 0].copy())
        return real(self, x, t)

    monkeypatch.setattr(TwoLayerNet, "loss_and_gradient", noted)
    return batches


def test_mini_batches_are_drawn_with_replacement_a_fresh_set_each_epoch(monkeypatch):
    # Each row's first column is its index, so the batches show which rows were drawn.
    x, t = blobs(600)
    x[:, 0] = np.arange(600)
    batches = record_batches(monkeypatch)
    train(TwoLayerNet(20, 5, 3, rng=0), x, t, x[:10], t[:10], iters=65, batch_size=20, lr=0.0,
          rng=7)
    rng = np.random.default_rng(7)
    expected = np.concatenate([rng.integers(600, size=(30, 20)) for _ in range(3)])[:65]
    np.testing.assert_array_equal(np.array(batches), expected)


def test_one_iteration_is_one_sgd_step_of_every_parameter():
    x, t = blobs(100)
    lr, batch_size = 0.5, 20
    # The mini-batch train draws first: rows for a whole epoch (100 // 20 batches), then row 0.
    batch = np.random.default_rng(1).integers(len(x), size=(len(x) // batch_size, batch_size))[0]
    net = TwoLayerNet(20, 5, 3, rng=0)
    before = {name: value.copy() for name, value in net.params.items()}
    grads = net.gradient(x[batch], t[batch])
    for name, grad in grads.items():  # so that every parameter has to move
        assert np.all(grad != 0), f"{name}'s gradient has zeros: {grad}"
    train(net, x, t, x, t, iters=1, batch_size=batch_size, lr=lr, rng=1)
    for name, grad in grads.items():
        np.testing.assert_allclose(net.params[name], before[name] - lr * grad, rtol=1e-12,
                                   atol=0, err_msg=name)


def test_each_epochs_line_comes_during_training_not_at_the_end(small_data):
    # In the foreground, at once: measured after iterations 0, 30, 60 and 90, each line comes
    # when 1, 31, 61 and 91 iterations are done.
    done = []
    history = History()
    train(TwoLayerNet(20, 10, 3, rng=0), *small_data, iters=95, batch_size=20, lr=0.5, rng=1,
          history=history, on_epoch=lambda *args: done.append(len(history.train_loss_list)))
    assert done == [1, 31, 61, 91]


LIMIT = 10 * math.log(3)  # for 3 classes: 10 times the loss of a uniform guess


@pytest.mark.parametrize("losses, stopped_at", [
    ([1.0, math.nextafter(LIMIT, 0), LIMIT], 2),  # the limit itself is too much
    ([1.0, float("nan")], 1),  # and NaN, which compares false with everything
])
def test_train_stops_at_the_first_loss_past_the_limit_before_its_update(monkeypatch, losses,
                                                                        stopped_at):
    x, t = blobs(100)
    net = TwoLayerNet(20, 5, 3, rng=0)
    seen, real = [], TwoLayerNet.loss_and_gradient

    def with_loss(self, x, t):
        seen.append({name: value.copy() for name, value in self.params.items()})
        _, grads = real(self, x, t)
        return losses[len(seen) - 1], grads

    monkeypatch.setattr(TwoLayerNet, "loss_and_gradient", with_loss)
    with pytest.raises(TrainingDiverged) as diverged:
        train(net, x, t, x, t, iters=10, batch_size=20, lr=0.5, rng=1)
    assert diverged.value.iteration == stopped_at
    for name, value in seen[-1].items():  # the update of the iteration that diverged not made
        np.testing.assert_array_equal(net.params[name], value)


def test_the_divergence_message_gives_the_loss_the_limit_and_the_learning_rate(monkeypatch):
    x, t = blobs(100)
    losses, real = iter([1.0, 123.456789]), TwoLayerNet.loss_and_gradient

    def with_loss(self, x, t):
        _, grads = real(self, x, t)
        return next(losses), grads

    monkeypatch.setattr(TwoLayerNet, "loss_and_gradient", with_loss)
    with pytest.raises(TrainingDiverged) as diverged:
        train(TwoLayerNet(20, 5, 3, rng=0), x, t, x, t, iters=10, batch_size=20, lr=2.0, rng=1)
    assert str(diverged.value) == (
        "training diverged at iteration 1: the mini-batch loss is 123.5, more than 10 times "
        "that of a uniform guess. The learning rate 2 is too large; try a smaller one (the book "
        "uses 0.1).")


def test_a_network_of_one_class_trains_without_being_taken_for_diverged():
    # The limit is 10 * log(2), not 10 * log(1) = 0: with one class every loss is exactly 0.
    x, t = blobs(100, num_classes=1)
    assert not t.any()
    history = train(TwoLayerNet(20, 5, 1, rng=0), x, t, x, t, iters=5, batch_size=20, lr=0.5,
                    rng=1)
    assert history.train_loss_list == [0.0] * 5
    assert history.test_acc_list == [1.0]


def test_float32_training_reaches_the_same_accuracy_as_float64(small_data):
    finals = {}
    for dtype in (np.float32, np.float64):
        net = TwoLayerNet(20, 10, 3, rng=0, dtype=dtype)
        history = train(net, *small_data, iters=300, batch_size=20, lr=0.5, rng=1)
        finals[dtype] = history.test_acc_list[-1], history.train_loss_list
    assert finals[np.float32][0] == pytest.approx(finals[np.float64][0], abs=0.02)
    np.testing.assert_allclose(finals[np.float32][1][:50], finals[np.float64][1][:50], rtol=1e-3)


def test_numerical_gradient_training_follows_backprop(small_data, monkeypatch):
    nets = {grad: TwoLayerNet(20, 10, 3, rng=0) for grad in ("backprop", "numerical")}
    calls = []  # which gradient each iteration took
    for method in ("loss_and_gradient", "numerical_gradient"):
        real = getattr(TwoLayerNet, method)

        def counted(self, x, t, real=real, method=method):
            calls.append(method)
            return real(self, x, t)

        monkeypatch.setattr(TwoLayerNet, method, counted)
    for grad, net in nets.items():
        train(net, *small_data, iters=5, batch_size=20, lr=0.5, rng=1, grad=grad)
    assert calls == ["loss_and_gradient"] * 5 + ["numerical_gradient"] * 5
    for name, value in nets["backprop"].params.items():
        np.testing.assert_allclose(nets["numerical"].params[name], value, rtol=1e-6, atol=1e-9)


def test_train_stops_when_the_loss_explodes(small_data):
    history = History()
    with pytest.raises(TrainingDiverged, match=r"diverged at iteration \d+.*try a smaller one"
                       ) as diverged:
        train(TwoLayerNet(20, 10, 3, rng=0), *small_data, iters=300, batch_size=20, lr=1000,
              rng=1, history=history)
    assert 0 < len(history.train_loss_list) < 300  # it stopped early, and kept the record
    # Iteration i is the one whose loss gave it away: the losses of 0 .. i - 1 are recorded.
    assert diverged.value.iteration == len(history.train_loss_list)
    assert f"at iteration {diverged.value.iteration}:" in str(diverged.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("which", ["x_train", "x_test"])
def test_images_with_nan_or_inf_are_refused_not_taken_for_a_learning_rate_too_large(
        small_data, bad, which):
    x_train, t_train, x_test, t_test = (array.copy() for array in small_data)
    (x_train if which == "x_train" else x_test)[54, 3] = bad
    with pytest.raises(ValueError, match=f"^{which} holds NaN or inf \\(the first in image 54\\)"):
        train(TwoLayerNet(20, 10, 3, rng=0), x_train, t_train, x_test, t_test, iters=10,
              batch_size=20, lr=0.5, rng=1)


def test_images_of_large_finite_values_are_not_taken_for_inf():
    # float16's largest is 65504: its min + max would overflow, each alone does not.
    x, t = blobs(100)
    x = (x + 40000).astype(np.float16)  # min + max would be 80000
    history = train(TwoLayerNet(20, 5, 3, rng=0), x, t, x, t, iters=1, batch_size=20, rng=1)
    assert len(history.train_loss_list) == 1


def test_train_stops_when_the_weights_overflow_before_the_loss_shows_it(small_data):
    # 1e300 * gradient is no float32: NumPy would warn "overflow encountered in cast" (in
    # NumPy 1, "in subtract") and go on with inf weights (and warnings are errors here).
    history = History()
    with pytest.raises(TrainingDiverged, match=r"iteration 0: its numbers grew too large for "
                                               r"float32 \(overflow encountered in \w+\)"):
        train(TwoLayerNet(20, 10, 3, rng=0, dtype=np.float32), *small_data, iters=300,
              batch_size=20, lr=1e300, rng=1, history=history)
    assert history.train_loss_list == []


def test_measuring_in_the_background_gives_the_same_history(small_data, monkeypatch):
    runs, measured_in = [], []
    real = Evaluator.measure

    def measure(self, params):
        measured_in.append(threading.current_thread() is threading.main_thread())
        return real(self, params)

    monkeypatch.setattr(Evaluator, "measure", measure)
    for in_background in (False, True):
        net, epochs = TwoLayerNet(20, 10, 3, rng=0), []
        history = train(net, *small_data, iters=95, batch_size=20, lr=0.5, rng=1,
                        on_epoch=lambda *args, epochs=epochs: epochs.append(args),
                        evaluate_in_background=in_background)
        runs.append((history, epochs, net.params))
    assert measured_in == [True] * 4 + [False] * 4  # in the loop, then in the second thread
    (history, epochs, params), (history_bg, epochs_bg, params_bg) = runs
    assert history_bg == history
    assert epochs_bg == epochs and [epoch for epoch, _, _ in epochs] == [0, 1, 2, 3]
    for name, value in params.items():
        np.testing.assert_array_equal(params_bg[name], value)


def test_background_measurement_sees_the_parameters_as_they_were_at_submit(small_data):
    x_train, t_train, x_test, t_test = small_data
    net = TwoLayerNet(20, 10, 3, rng=0, weight_init_std=1.0)
    expected = net.accuracy(x_train, t_train), net.accuracy(x_test, t_test)
    go, reported = threading.Event(), []
    with Evaluator(*small_data, lambda *accuracies: reported.append(accuracies),
                   in_background=True) as evaluator:
        evaluator.measure = held_until(go, evaluator.measure)
        try:
            evaluator.submit(net.params)
            evaluator.report_finished()
            assert reported == []  # still measuring
            for value in net.params.values():  # training moves on meanwhile
                value *= -1
        finally:
            go.set()
    assert reported == [expected]  # reported on leaving the with block
    assert expected != (net.accuracy(x_train, t_train), net.accuracy(x_test, t_test))


def test_measurements_are_reported_in_the_order_they_were_submitted(small_data):
    x_train, t_train, x_test, t_test = small_data
    nets = [TwoLayerNet(20, 10, 3, rng=seed, weight_init_std=1.0) for seed in (0, 1)]
    expected = [(net.accuracy(x_train, t_train), net.accuracy(x_test, t_test)) for net in nets]
    assert expected[0] != expected[1]
    go, reported = threading.Event(), []
    with Evaluator(*small_data, lambda *accuracies: reported.append(accuracies),
                   in_background=True) as evaluator:
        evaluator.measure = held_until(go, evaluator.measure)
        try:
            for net in nets:
                evaluator.submit(net.params)
        finally:
            go.set()  # both are still waiting when the with block ends
    assert reported == expected


def test_a_finished_measurement_is_reported_while_a_later_one_still_runs(small_data):
    x_train, t_train, x_test, t_test = small_data
    nets = [TwoLayerNet(20, 10, 3, rng=seed, weight_init_std=1.0) for seed in (0, 1)]
    first = nets[0].accuracy(x_train, t_train), nets[0].accuracy(x_test, t_test)
    second_started, go, reported, measured = threading.Event(), threading.Event(), [], []
    with Evaluator(*small_data, lambda *accuracies: reported.append(accuracies),
                   in_background=True) as evaluator:
        measure = evaluator.measure

        def second_held(params):
            measured.append(params)
            if len(measured) == 2:
                second_started.set()
                assert go.wait(timeout=60)
            return measure(params)

        evaluator.measure = second_held
        try:
            for net in nets:
                evaluator.submit(net.params)
            # One measurement at a time: the second starts once the first is done.
            assert second_started.wait(timeout=60)
            evaluator.report_finished()
            assert reported == [first]  # now, not when the second is done too
        finally:
            go.set()
    assert len(reported) == 2


@pytest.mark.parametrize("in_background", [False, True])
def test_a_measurement_that_overflows_raises_floating_point_error_in_either_mode(in_background):
    # As training does (overflow_means_divergence turns it into TrainingDiverged). NumPy's error
    # state is the thread's own: the second thread has to set it too, or it would only warn.
    x, t = np.ones((5, 20), dtype=np.float32), np.zeros(5, dtype=int)
    params = TwoLayerNet(20, 10, 3, rng=0, dtype=np.float32).params | {
        "W1": np.full((20, 10), 3e38, dtype=np.float32)}  # x @ W1 is past float32's largest
    with pytest.raises(FloatingPointError, match="overflow"), Evaluator(
            x, t, x, t, report=print, in_background=in_background) as evaluator:
        evaluator.submit(params)


def held_until(event, measure):
    """measure, made to wait for `event` first: in a background thread. In the thread that
    submits, waiting would never end, so it fails instead."""
    def held(params):
        assert event.wait(timeout=60), "the measurement was not made in a background thread"
        return measure(params)

    return held


def test_measurements_started_before_a_blow_up_are_kept(small_data):
    histories = []
    for in_background in (False, True):
        histories.append(History())
        with pytest.raises(TrainingDiverged):
            train(TwoLayerNet(20, 10, 3, rng=0), *small_data, iters=300, batch_size=20, lr=1000,
                  rng=1, history=histories[-1], evaluate_in_background=in_background)
    assert histories[1] == histories[0]
    assert len(histories[0].train_acc_list) >= 1


@pytest.mark.parametrize("as_script, preset, expected", [
    (False, None, "None None None None"),  # importing the module changes nothing
    (True, None, "1 1 1 1"),  # run as a script: one BLAS thread, set before NumPy loads
    (True, "3", "3 1 1 1"),  # but what the user set wins
])
def test_only_the_script_asks_for_one_blas_thread(as_script, preset, expected):
    env = {key: value for key, value in os.environ.items() if key not in BLAS_THREADS}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    run = ("runpy.run_module('ch04.train_neuralnet', run_name='__main__')" if as_script
           else "import ch04.train_neuralnet")
    code = ("import contextlib, io, os, runpy, sys\n"
            "sys.argv[1:] = ['--help']\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            f"    {run}\n"
            f"print(*(os.environ.get(name) for name in {BLAS_THREADS}))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_train_on_uint8_pixels_equals_train_on_the_scaled_floats():
    rng = np.random.default_rng(3)
    pixels, t = rng.integers(0, 256, size=(2500, 20), dtype=np.uint8), rng.integers(3, size=2500)
    runs = []
    for x in (pixels, scale_pixels(pixels)):
        net = TwoLayerNet(20, 10, 3, rng=0)
        # 2500 rows: the accuracy slices of 1000 rows include a shorter last one
        runs.append(train(net, x, t, x[:1200], t[:1200], iters=60, batch_size=50, lr=0.5, rng=1))
    assert runs[0] == runs[1]


def test_accuracy_of_pixels_equals_network_accuracy_of_the_scaled_floats():
    rng = np.random.default_rng(4)
    net = TwoLayerNet(20, 10, 3, rng=0, weight_init_std=1.0)
    # uint8 pixels are measured with W1 / 255, not divided: the same answers here
    pixels, t = rng.integers(0, 256, size=(2500, 20), dtype=np.uint8), rng.integers(3, size=2500)
    assert accuracy(net, pixels, t) == net.accuracy(scale_pixels(pixels), t)


def test_accuracy_of_pixels_reads_them_as_pixel_over_255_at_a_decision_boundary():
    # One input, one hidden unit: class 0 wins if sigmoid(pixel / 255) > sigmoid(0.501), which
    # holds for 128 / 255 = 0.50196 and would not for 128 / 256 = 0.5.
    c = 1 / (1 + np.exp(-0.501))
    net = TwoLayerNet.from_params({"W1": np.array([[1.0]]), "b1": np.zeros(1),
                                   "W2": np.array([[1.0, -1.0]]), "b2": np.array([-c, c])})
    pixel, label = np.array([[128]], dtype=np.uint8), np.array([0])
    assert accuracy(net, pixel, label) == net.accuracy(pixel / 255, label) == 1.0


def test_train_with_one_hot_labels_equals_train_with_integer_labels(small_data):
    x_train, t_train, x_test, t_test = small_data
    one_hot = np.eye(3, dtype=np.float32)
    runs = []
    for to_labels in (lambda t: t, lambda t: one_hot[t]):
        net = TwoLayerNet(20, 10, 3, rng=0)
        runs.append(train(net, x_train, to_labels(t_train), x_test, to_labels(t_test),
                          iters=40, batch_size=20, lr=0.5, rng=1))
    assert runs[0] == runs[1]


# The command line, on a synthetic stand-in for MNIST: 784 features, 10 classes.


@dataclasses.dataclass(frozen=True)
class FakeSpec:
    name: str = "fake"
    train_size: int = 1000
    input_size: int = 784
    class_names: tuple = tuple("0123456789")


@pytest.fixture
def fake_mnist(monkeypatch):
    """Make the CLI load 1000 + 200 synthetic 784-pixel images instead of MNIST."""
    def load(normalize=True, flatten=True, one_hot_label=False):
        def images(x):  # pixels, as the real loader gives them
            pixels = np.clip(np.round(x * 255), 0, 255).astype(np.uint8)
            return scale_pixels(pixels) if normalize else pixels

        (x_train, t_train), (x_test, t_test) = (blobs(1000, 784, 10, seed=1, spread=0.5),
                                                blobs(200, 784, 10, seed=2, spread=0.5))
        return (images(x_train), t_train), (images(x_test), t_test)

    datasets = {"mnist": (load, FakeSpec()), "fashion-mnist": (load, FakeSpec())}
    monkeypatch.setattr(dataset, "datasets", lambda: datasets)


def run_cli(tmp_path, *args):
    return main(["--plot", str(tmp_path / "plot.png"), "--no-show", "--seed", "0", *args])


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, as a shell's is."""

    def isatty(self):
        return True


def test_cli_with_a_terminal_on_stderr_shows_a_progress_bar_above_the_lines(
        fake_mnist, tmp_path, monkeypatch, capsys):
    terminal = Terminal()
    with monkeypatch.context() as patch:  # put back before capsys's teardown (pytest -s)
        patch.setattr(sys, "stderr", terminal)
        assert run_cli(tmp_path, "--iters", "25") == 0
    bar = terminal.getvalue()
    assert "training: " in bar and "/25 " in bar
    assert re.search(r"loss=\d\.\d{3}, test_acc=[01]\.\d{4}", bar), bar
    lines = capsys.readouterr().out.splitlines()  # tqdm.write puts them on stdout
    assert len([line for line in lines if line.startswith("train acc, test acc | ")]) == 3


def test_cli_without_the_data_says_why_and_prints_no_seed_for_a_run_that_never_was(
        monkeypatch, tmp_path, capsys):
    def load(normalize=True, flatten=True, one_hot_label=False):
        raise dataset.DatasetUnavailableError("no source had train-images-idx3-ubyte: ...")

    monkeypatch.setattr(dataset, "datasets", lambda: {"mnist": (load, FakeSpec())})
    assert main(["--plot", str(tmp_path / "plot.png"), "--no-show"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", "no source had train-images-idx3-ubyte: ...\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("in_background", [False, True])
def test_cli_prints_the_books_lines_and_writes_the_plot(fake_mnist, tmp_path, capsys,
                                                        monkeypatch, in_background):
    # As a script, with one BLAS thread, the CLI measures accuracy in the background.
    monkeypatch.setattr(train_neuralnet, "ONE_BLAS_THREAD", in_background)
    assert run_cli(tmp_path, "--iters", "50", "--save-params", str(tmp_path / "p.npz")) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("train acc, test acc | ")]
    assert len(lines) == 5  # iterations 0, 10, 20, 30, 40 (1000 images, batches of 100)
    for line in lines:  # the book's "... | " + str(train_acc) + ", " + str(test_acc)
        train_acc, test_acc = line.removeprefix("train acc, test acc | ").split(", ")
        assert (str(float(train_acc)), str(float(test_acc))) == (train_acc, test_acc), line
    assert "seed 0 (repeat this run with --seed 0)" in out
    assert "final accuracy: train" in out
    assert (tmp_path / "plot.png").read_bytes().startswith(PNG_SIGNATURE)
    assert f"plot saved to {tmp_path / 'plot.png'}" in out
    saved = TwoLayerNet.load(tmp_path / "p.npz")
    assert saved.dtype == np.float32
    # The final accuracy is that of the saved parameters, after all 50 updates, not the last
    # per-epoch line's (after update 41).
    (x_train, t_train), (x_test, t_test) = dataset.datasets()["mnist"][0]()
    train_acc, test_acc = saved.accuracy(x_train, t_train), saved.accuracy(x_test, t_test)
    assert f"final accuracy: train {train_acc:.4f}, test {test_acc:.4f}" in out


def test_cli_lines_give_train_then_test_accuracy_of_the_parameters_measured(
        fake_mnist, tmp_path, capsys):
    # One update: the book measures right after it, so the per-epoch line and the final
    # accuracy both belong to the saved parameters, and no extra measurement is made.
    assert run_cli(tmp_path, "--iters", "1", "--save-params", str(tmp_path / "p.npz")) == 0
    out = capsys.readouterr().out
    saved = TwoLayerNet.load(tmp_path / "p.npz")
    (x_train, t_train), (x_test, t_test) = dataset.datasets()["mnist"][0](normalize=False)
    train_acc, test_acc = accuracy(saved, x_train, t_train), accuracy(saved, x_test, t_test)
    assert train_acc != test_acc  # so that their order shows
    assert f"\ntrain acc, test acc | {train_acc}, {test_acc}\n" in out
    assert f"\nfinal accuracy: train {train_acc:.4f}, test {test_acc:.4f}\n" in out


def test_cli_final_accuracy_is_the_last_lines_when_that_was_after_the_last_update(
        fake_mnist, tmp_path, capsys):
    # 41 updates, 10 an epoch: measured after iterations 0, 10, ..., 40, the last, and not again.
    assert run_cli(tmp_path, "--iters", "41") == 0
    out = capsys.readouterr().out
    lines = [[f"{float(acc):.4f}" for acc in line]
             for line in re.findall(r"^train acc, test acc \| (\S+), (\S+)$", out, flags=re.M)]
    *earlier, last = lines
    assert len(lines) == 5 and last not in earlier  # so that it shows which one is given
    assert f"\nfinal accuracy: train {last[0]}, test {last[1]}\n" in out


def test_cli_summary_gives_the_time_each_iteration_took_and_the_seed(fake_mnist, tmp_path,
                                                                     capsys, monkeypatch):
    # A clock of our own, read when training starts and when it ends: 2.5 s for 20 iterations.
    clock = types.SimpleNamespace(perf_counter=iter([100.0, 102.5]).__next__)
    monkeypatch.setattr(train_neuralnet, "time", clock)
    assert run_cli(tmp_path, "--iters", "20", "--quiet") == 0
    assert capsys.readouterr().out.startswith("20 iterations in 2.5 s (125.00 ms each), seed 0\n")


def test_cli_names_the_files_it_saved_by_their_full_paths(fake_mnist, tmp_path, capsys):
    # Given relative to the current folder (the test's tmp_path).
    assert main(["--plot", "plot.png", "--save-params", "p.npz", "--no-show", "--seed", "0",
                 "--iters", "3"]) == 0
    out = capsys.readouterr().out
    assert f"\nplot saved to {(tmp_path / 'plot.png').resolve()}\n" in out
    assert f"\nparameters saved to {(tmp_path / 'p.npz').resolve()}\n" in out


def test_cli_plot_is_titled_with_what_makes_the_run(fake_mnist, tmp_path, monkeypatch):
    figures, real = [], train_neuralnet.plot_history

    def plot_history(*args):
        figures.append(real(*args))
        return figures[-1]

    monkeypatch.setattr(train_neuralnet, "plot_history", plot_history)
    assert run_cli(tmp_path, "--iters", "3", "--hidden-size", "7", "--batch-size", "50",
                   "--lr", "0.25", "--dtype", "float64") == 0
    assert [fig.get_suptitle() for fig in figures] == [
        "mnist, hidden 7, batch 50, lr 0.25, backprop, float64, seed 0"]


def test_cli_run_is_repeatable_with_its_seed(fake_mnist, tmp_path, capsys):
    outputs = []
    for _ in range(2):
        assert run_cli(tmp_path, "--iters", "30") == 0
        out = capsys.readouterr().out
        outputs.append([line for line in out.splitlines() if line.startswith("train acc")])
    assert len(outputs[0]) == 3  # iterations 0, 10 and 20
    assert outputs[0] == outputs[1]


def test_cli_quiet_prints_only_the_summary(fake_mnist, tmp_path, capsys):
    assert run_cli(tmp_path, "--iters", "30", "--quiet") == 0
    out = capsys.readouterr().out
    assert "train acc, test acc" not in out
    assert "final accuracy" in out


@pytest.mark.parametrize("args, message", [
    (["--iters", "0"], "argument --iters: must be a positive int, got 0"),
    (["--iters", "ten"], "argument --iters: expected a positive int, got 'ten'"),
    (["--batch-size", "0"], "argument --batch-size: must be a positive int, got 0"),
    (["--batch-size", "1001"], "--batch-size: 1001 is larger than the mnist training set (1000"),
    (["--lr", "-1"], "argument --lr: must be a positive float, got -1"),
    (["--lr", "nan"], "argument --lr: must be a positive float, got nan"),
    (["--lr", "1e400"], "argument --lr: must be a finite number, got 1e400"),
    (["--hidden-size", "0"], "argument --hidden-size: must be a positive int, got 0"),
    (["--seed", "-3"], "argument --seed: must be 0 or more, got -3"),
    (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
])
def test_cli_rejects_bad_values_with_status_2(fake_mnist, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        run_cli(tmp_path, *args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("option, name, message", [
    ("--plot", "missing/plot.png", "does not exist"),
    ("--plot", "plot.pdf", "must end in .png"),
    ("--save-params", "missing/p.npz", "does not exist"),
    ("--save-params", ".", "is a folder"),
])
def test_cli_checks_output_paths_before_training(fake_mnist, tmp_path, capsys, monkeypatch,
                                                 option, name, message):
    monkeypatch.setattr(train_neuralnet, "train", lambda *a, **k: pytest.fail("trained anyway"))
    with pytest.raises(SystemExit) as exc:
        main(["--no-show", option, str(tmp_path / name)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null here")
def test_cli_allows_dev_null_for_both_the_plot_and_the_parameters(fake_mnist):
    args = train_neuralnet.parse_args(["--plot", "/dev/null", "--save-params", "/dev/null"])
    assert str(args.plot) == str(args.save_params) == "/dev/null"


def test_cli_refuses_the_same_file_for_the_plot_and_the_parameters(fake_mnist, tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setattr(train_neuralnet, "train", lambda *a, **k: pytest.fail("trained anyway"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    names = ["./same.png", "sub/../same.png"]
    try:
        (tmp_path / "link.png").symlink_to("same.png")
        names.append("link.png")
    except OSError:  # Windows allows symbolic links only to some users
        pass
    for same in names:
        with pytest.raises(SystemExit) as exc:
            main(["--no-show", "--plot", "same.png", "--save-params", same])
        assert exc.value.code == 2
        assert f"--save-params {Path(same)} is the --plot file too" in capsys.readouterr().err


@pytest.mark.parametrize("hidden_size", ["99999999999", "99999999999999999999", "1" + "0" * 400],
                         ids=["1e11", "1e20", "1e400"])
def test_cli_refuses_a_network_too_big_for_the_memory(fake_mnist, capsys, monkeypatch,
                                                      hidden_size):
    monkeypatch.setattr(train_neuralnet, "physical_memory", lambda: 8 * 2**30)
    monkeypatch.setattr(train_neuralnet, "run", lambda args: pytest.fail("ran anyway"))
    with pytest.raises(SystemExit) as exc:
        main(["--no-show", "--hidden-size", hidden_size])
    assert exc.value.code == 2
    assert (f"argument --hidden-size: {hidden_size} hidden units need about"
            in capsys.readouterr().err)


@pytest.mark.parametrize("dtype, hidden_size, fits", [
    # 8 bytes per weight and 795 weights per hidden unit (784 in, 10 out, and the biases):
    # 8 GiB hold about 337,700 float32 units, and half as many float64 ones.
    ("float32", 330_000, True), ("float32", 345_000, False),
    ("float64", 165_000, True), ("float64", 172_000, False),
])
def test_cli_memory_check_counts_every_weight_in_its_dtype(fake_mnist, monkeypatch, capsys,
                                                           dtype, hidden_size, fits):
    monkeypatch.setattr(train_neuralnet, "physical_memory", lambda: 8 * 2**30)
    args = ["--dtype", dtype, "--hidden-size", str(hidden_size), "--batch-size", "1"]
    if fits:
        assert train_neuralnet.parse_args(args).hidden_size == hidden_size
    else:
        with pytest.raises(SystemExit):
            train_neuralnet.parse_args(args)
        assert "hidden units need about" in capsys.readouterr().err


@pytest.fixture
def machine_of_24_gib(monkeypatch):
    """parse_args as on this machine, for MNIST's 60,000 training images (not loaded)."""
    monkeypatch.setattr(train_neuralnet, "physical_memory", lambda: 24 * 2**30)
    spec = FakeSpec(name="mnist", train_size=60_000)
    monkeypatch.setattr(dataset, "datasets", lambda: {"mnist": (None, spec)})


@pytest.mark.parametrize("batch_size, hidden_size, fits", [
    # About 5 arrays of batch × hidden numbers besides the weights: this one was killed by the
    # kernel on a 24 GB machine, with no message, before the check counted them.
    (60_000, 30_000, False),
    (60_000, 4_000, True),  # 4.8 GB in float32
])
def test_cli_memory_check_counts_the_hidden_layer_of_a_batch(machine_of_24_gib, capsys,
                                                             batch_size, hidden_size, fits):
    args = ["--batch-size", str(batch_size), "--hidden-size", str(hidden_size)]
    if fits:
        assert train_neuralnet.parse_args(args).batch_size == batch_size
    else:
        with pytest.raises(SystemExit) as exc:
            train_neuralnet.parse_args(args)
        assert exc.value.code == 2
        assert re.search(r"argument --batch-size: 60000 images with 30000 hidden units need "
                         r"about [\d.]+ GB, more than this machine's 25.8 GB",
                         capsys.readouterr().err)


@pytest.mark.parametrize("args, blamed", [
    # Even a batch of 1 cannot fit 1.1 million units in 24 GiB: a smaller batch would not help.
    (["--batch-size", "2000", "--hidden-size", "1100000"], "--hidden-size: 1100000 hidden units"),
    (["--batch-size", "60000", "--hidden-size", "1" + "0" * 400], "--hidden-size: 1000"),
    # The weights (20 GB) take more than the batch's arrays (16 GB), but a batch of 300 would fit
    # beside them: both are named.
    (["--batch-size", "1000", "--hidden-size", "800000"],
     "--batch-size: 1000 images with 800000 hidden units"),
    # The numerical gradient holds two float64 arrays of hidden x 10 x batch x 10 numbers
    # (1.6 KB per image and hidden unit, measured): about 33 GB here, 0.55 GB by backprop.
    (["--batch-size", "60000", "--hidden-size", "300", "--grad", "numerical"],
     "--batch-size: 60000 images with 300 hidden units and --grad numerical"),
])
def test_cli_memory_check_blames_what_a_smaller_value_would_fix(machine_of_24_gib, capsys,
                                                                args, blamed):
    with pytest.raises(SystemExit) as exc:
        train_neuralnet.parse_args(args)
    assert exc.value.code == 2
    assert f"argument {blamed}" in capsys.readouterr().err


def test_cli_memory_check_lets_a_small_numerical_run_through(machine_of_24_gib):
    # 2.0 GB of peak RSS measured for batch 5000, hidden 200; the book's numerical run is far less.
    assert train_neuralnet.parse_args(["--grad", "numerical", "--batch-size", "5000",
                                       "--hidden-size", "200"]).batch_size == 5000


@pytest.mark.parametrize("batch_size, fits", [(600, True), (1000, False)])
def test_cli_memory_check_counts_the_images_of_a_batch(fake_mnist, monkeypatch, capsys,
                                                       batch_size, fits):
    # With one hidden unit a batch is its images: 784 float32 pixels, 3.1 KB each.
    monkeypatch.setattr(train_neuralnet, "physical_memory", lambda: 2_000_000)
    args = ["--batch-size", str(batch_size), "--hidden-size", "1"]
    if fits:
        assert train_neuralnet.parse_args(args).batch_size == batch_size
    else:
        with pytest.raises(SystemExit):
            train_neuralnet.parse_args(args)
        assert ("argument --batch-size: 1000 images with 1 hidden units need about"
                in capsys.readouterr().err)


def test_cli_memory_message_gives_the_need_and_the_memory_in_the_same_unit(fake_mnist):
    args = train_neuralnet.parse_args(["--hidden-size", "50"])
    fits, short = 10**12, 0  # memory that fits the run, and memory that does not
    while fits - short > 1:
        middle = (fits + short) // 2
        if train_neuralnet.memory_problem(args, middle) is None:
            fits = middle
        else:
            short = middle
    message = train_neuralnet.memory_problem(args, short)  # one byte too little
    need, have = re.search(r"need about (\S+) GB, more than this machine's (\S+) GB",
                           message).groups()
    assert need == have


def test_cli_takes_the_data_set_it_is_given(monkeypatch):
    loaders = {name: (lambda **kwargs: None, FakeSpec(name=name))
               for name in ("mnist", "fashion-mnist")}
    monkeypatch.setattr(dataset, "datasets", lambda: loaders)
    for name in loaders:
        args = train_neuralnet.parse_args(["--dataset", name])
        assert (args.loader, args.spec) == loaders[name]


def test_cli_allows_a_batch_of_the_whole_training_set(fake_mnist):
    assert train_neuralnet.parse_args(["--batch-size", "1000"]).batch_size == 1000


def test_cli_allows_a_network_that_fits(fake_mnist, monkeypatch):
    monkeypatch.setattr(train_neuralnet, "physical_memory", lambda: 8 * 2**30)
    assert train_neuralnet.parse_args(["--hidden-size", "100000"]).hidden_size == 100000
    monkeypatch.setattr(train_neuralnet, "physical_memory", lambda: None)  # unknown: no check
    assert train_neuralnet.parse_args(["--hidden-size", "1000000000"]).hidden_size == 10**9


@pytest.mark.parametrize("iters, window", [(20, 10), (10_000, 100)])
def test_plot_draws_the_running_mean_of_the_loss_also_for_a_short_run(iters, window):
    losses = list(np.linspace(2.3, 0.3, iters))
    fig = plot_history(History(train_loss_list=losses, train_acc_list=[0.1],
                               test_acc_list=[0.1], iter_per_epoch=600))
    ax_loss = fig.axes[1]
    (mean,) = [line for line in ax_loss.get_lines() if line.get_label().startswith("mean")]
    assert mean.get_label() == f"mean of the last {window}"
    assert len(mean.get_xdata()) == iters - window + 1 >= 2  # a line, not a lone point
    np.testing.assert_allclose(mean.get_ydata()[0], np.mean(losses[:window]))
    # each mean drawn at the last iteration of its window
    np.testing.assert_array_equal(mean.get_xdata(), np.arange(window - 1, iters))


def test_plot_shows_the_loss_of_a_one_iteration_run():
    import matplotlib.pyplot as plt

    fig = plot_history(History(train_loss_list=[2.3], train_acc_list=[0.1], test_acc_list=[0.1],
                               iter_per_epoch=600))
    (loss,) = fig.axes[1].get_lines()  # no mean of one
    assert loss.get_marker() not in ("None", "", " ")  # a line of one point is invisible
    plt.close(fig)


def test_plot_draws_each_group_of_losses_as_a_band_from_its_least_to_its_largest():
    # 10,000 losses: 500 groups of 20, each drawn at its middle.
    losses = np.random.default_rng(5).random(10_000)
    fig = plot_history(History(train_loss_list=list(losses), train_acc_list=[0.1],
                               test_acc_list=[0.1], iter_per_epoch=600))
    (band,) = fig.axes[1].collections
    drawn = {tuple(point) for point in band.get_paths()[0].vertices}
    for k, group in enumerate(losses.reshape(500, 20)):
        assert {(20 * k + 10, group.min()), (20 * k + 10, group.max())} <= drawn, k


@pytest.mark.parametrize("iters, bands", [(999, False), (1000, True)])
def test_plot_draws_bands_once_each_holds_two_losses(iters, bands):
    fig = plot_history(History(train_loss_list=[1.0] * iters, train_acc_list=[0.1],
                               test_acc_list=[0.1], iter_per_epoch=600))
    ax_loss = fig.axes[1]
    assert len(ax_loss.collections) == bands
    labels = [line.get_label() for line in ax_loss.get_lines()]
    assert ("mini-batch loss" in labels) == (not bands)  # else a line of every loss


def test_plot_puts_the_first_accuracy_at_epoch_0():
    # Measured after iteration 0, before a whole epoch of updates.
    accuracies = {"train acc": [0.1, 0.5, 0.8], "test acc": [0.1, 0.4, 0.7]}
    fig = plot_history(History(train_loss_list=[2.3] * 3, train_acc_list=accuracies["train acc"],
                               test_acc_list=accuracies["test acc"], iter_per_epoch=1))
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == list(accuracies)
    for line, values in zip(lines, accuracies.values(), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
        np.testing.assert_array_equal(line.get_ydata(), values)


def disk_full(*args):
    raise OSError(28, "No space left on device", str(args[-1]))


@pytest.mark.parametrize("failing", ["plot", "parameters"])
def test_cli_saves_the_one_file_even_if_the_other_cannot_be_saved(fake_mnist, tmp_path,
                                                                  monkeypatch, capsys, failing):
    if failing == "plot":
        monkeypatch.setattr(train_neuralnet, "save_figure", disk_full)
    else:
        monkeypatch.setattr(TwoLayerNet, "save", disk_full)
    params, plot = tmp_path / "p.npz", tmp_path / "plot.png"
    assert run_cli(tmp_path, "--iters", "20", "--save-params", str(params)) == 1
    out, err = capsys.readouterr()
    path = plot if failing == "plot" else params
    assert err == f"error: could not save the {failing} to {path}: No space left on device\n"
    assert "\nfinal accuracy: train " in out  # the summary is not lost
    if failing == "plot":
        assert TwoLayerNet.load(params).params["W1"].shape == (784, 50)
        assert f"parameters saved to {params}\n" in out and "plot saved" not in out
    else:
        assert plot.read_bytes().startswith(PNG_SIGNATURE)
        assert f"plot saved to {plot}\n" in out and "parameters saved" not in out


def test_cli_interrupted_run_that_cannot_save_a_file_still_exits_130(fake_mnist, tmp_path,
                                                                      monkeypatch, capsys):
    raise_at_iteration(monkeypatch, 25, KeyboardInterrupt)
    monkeypatch.setattr(train_neuralnet, "save_figure", disk_full)
    assert run_cli(tmp_path) == 130  # the interruption is what ended the run
    err = capsys.readouterr().err
    assert "interrupted after 25 iterations\n" in err
    assert "error: could not save the plot to " in err


def test_cli_names_a_failed_save_on_stderr_before_the_summary(fake_mnist, tmp_path,
                                                               monkeypatch):
    # Before: a reader that stops early (| head) may close stdout during the summary.
    monkeypatch.setattr(train_neuralnet, "save_figure", disk_full)
    both = io.StringIO()
    monkeypatch.setattr(sys, "stdout", both)
    monkeypatch.setattr(sys, "stderr", both)
    assert run_cli(tmp_path, "--iters", "20", "--quiet") == 1
    assert re.fullmatch(rf"error: could not save the plot to {re.escape(str(tmp_path))}/plot.png: "
                        r"No space left on device\n"
                        r"20 iterations in .*\nfinal accuracy: .*\n", both.getvalue())


def a_bug_in_drawing(fig, path):
    raise RuntimeError("a bug in drawing")


def test_cli_saves_the_parameters_also_when_the_figure_fails_with_a_bug(fake_mnist, tmp_path,
                                                                       monkeypatch, capsys):
    monkeypatch.setattr(train_neuralnet, "save_figure", a_bug_in_drawing)
    with pytest.raises(RuntimeError, match="a bug in drawing"):  # a traceback, not a line
        run_cli(tmp_path, "--iters", "20", "--save-params", str(tmp_path / "p.npz"))
    assert TwoLayerNet.load(tmp_path / "p.npz").params["W1"].shape == (784, 50)
    out, err = capsys.readouterr()
    assert "\nfinal accuracy: train " in out
    assert err == (f"error: could not save the plot to {tmp_path / 'plot.png'}: RuntimeError: "
                   "a bug in drawing\n")


class ClosedStdout(io.StringIO):
    """A stdout whose reader has gone: as a buffered pipe, it fails only when flushed."""

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("bug", [False, True], ids=["saved", "a bug in saving"])
def test_with_stdout_closed_the_figure_is_closed_not_shown(fake_mnist, tmp_path, monkeypatch,
                                                           capsys, bug):
    import matplotlib.pyplot as plt

    plt.close("all")
    if bug:
        monkeypatch.setattr(train_neuralnet, "save_figure", a_bug_in_drawing)
    real, shown = train_neuralnet.show_figure, []

    def show_figure(fig, no_show=False):
        shown.append(not no_show)
        real(fig, no_show)

    monkeypatch.setattr(train_neuralnet, "show_figure", show_figure)
    # Without --no-show the figure comes from pyplot, which keeps it until it is closed; with
    # --quiet the summary is the first thing written to stdout. stdout is put back before
    # capsys's teardown, not after it (with pytest -s, later tests got a closed capture stream).
    with monkeypatch.context() as patch, pytest.raises(BrokenPipeError):  # run_main: 141
        patch.setattr(sys, "stdout", ClosedStdout())
        main(["--plot", str(tmp_path / "plot.png"), "--seed", "0", "--iters", "20", "--quiet"])
    assert shown == [False]  # no window opens for a run whose reader has gone
    assert plt.get_fignums() == []
    assert ("error: could not save the plot" in capsys.readouterr().err) == bug


class ClosedStderr(io.StringIO):
    """A stderr whose reader has gone (`2>&1 >out.txt | true`)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("stop, status", [("diverged", 1), ("interrupted", 130)])
def test_cli_whose_stderr_reader_has_gone_still_saves_the_plot_and_ends_with_its_status(
        fake_mnist, tmp_path, monkeypatch, capsys, stop, status):
    # The message that says why the run stopped can't be shown: it is dropped. Before, its
    # BrokenPipeError was taken for stdout's, and the run ended with 141 without its plot.
    if stop == "interrupted":
        raise_at_iteration(monkeypatch, 25, KeyboardInterrupt)
        args = []
    else:
        args = ["--lr", "1000"]
    with monkeypatch.context() as patch, pytest.raises(SystemExit) as exit_info:
        patch.setattr(sys, "stderr", ClosedStderr())
        run_main(lambda: run_cli(tmp_path, *args))
    assert exit_info.value.code == status
    assert (tmp_path / "plot.png").read_bytes().startswith(PNG_SIGNATURE)
    assert f"plot saved to {tmp_path / 'plot.png'}\n" in capsys.readouterr().out


def cat(fifo):
    """A reader of the new named pipe `fifo`, like `cat fifo`: it waits in open() for a writer
    and reads until the end of its input. → finish(), which returns what it read, or fails the
    test if it is still waiting 10 s later."""
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()

    def finish():
        reader.join(timeout=10)
        if reader.is_alive():  # be a writer for a moment, and fail
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(timeout=60)
            pytest.fail(f"the reader of {fifo.name} was left waiting")
        return received[0]

    return finish


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_cli_after_a_blow_up_ends_the_input_of_a_parameters_pipes_reader(fake_mnist, tmp_path,
                                                                         capsys):
    # A blown-up run's parameters are not saved, but a program waiting to read them from a
    # named pipe (`cat pipe`) gets the end of its input, not a wait forever.
    finish = cat(tmp_path / "pipe")
    assert run_cli(tmp_path, "--lr", "1000", "--save-params", str(tmp_path / "pipe")) == 1
    assert finish() == b""  # nothing: no parameters of a blow-up
    assert "parameters saved" not in capsys.readouterr().out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_cli_after_a_blow_up_writes_the_plot_into_a_pipe_that_is_also_for_the_parameters(
        fake_mnist, tmp_path, capsys):
    # Its input is ended only after the plot, which would otherwise find no reader.
    finish = cat(tmp_path / "pipe")
    assert main(["--plot", str(tmp_path / "pipe"), "--save-params", str(tmp_path / "pipe"),
                 "--no-show", "--seed", "0", "--lr", "1000"]) == 1
    assert finish().startswith(PNG_SIGNATURE)
    assert f"plot saved to {tmp_path / 'pipe'}" in capsys.readouterr().out


@pytest.mark.parametrize("failure", ["no data", "no memory for the weights", "Ctrl-C"])
def test_cli_that_ends_before_training_ends_the_input_of_its_pipes_readers(
        fake_mnist, monkeypatch, pipe_readers, failure):
    # Nothing will be written into them: readers that have them open already see the end.
    if failure == "no memory for the weights":
        def no_memory(*args, **kwargs):
            raise MemoryError

        monkeypatch.setattr(TwoLayerNet, "__init__", no_memory)
    else:  # Ctrl-C while loading ends the run through run_main, with the KeyboardInterrupt
        error = (KeyboardInterrupt() if failure == "Ctrl-C"
                 else dataset.DatasetUnavailableError("no source had train-images-idx3-ubyte"))

        def load(normalize=True, flatten=True, one_hot_label=False):
            raise error

        monkeypatch.setattr(dataset, "datasets", lambda: {"mnist": (load, FakeSpec())})
    (plot, params), ended = pipe_readers("plot", "params")
    argv = ["--plot", str(plot), "--save-params", str(params), "--no-show"]
    if failure == "Ctrl-C":
        with pytest.raises(KeyboardInterrupt):
            main(argv)
    else:
        assert main(argv) == 1
    assert ended() == [True, True]


def test_cli_closes_its_figure_also_after_a_failed_run(fake_mnist, tmp_path):
    import matplotlib.pyplot as plt

    plt.close("all")
    # Without --no-show the figure comes from pyplot, which keeps it until it is closed.
    assert main(["--plot", str(tmp_path / "plot.png"), "--seed", "0", "--lr", "1000"]) == 1
    assert plt.get_fignums() == []


@pytest.mark.parametrize("args, status, shown", [
    (["--iters", "20"], 0, [True]),
    (["--lr", "1000"], 1, [False]),  # no window for a run that failed; its message says why
])
def test_cli_shows_the_figure_only_after_a_run_that_succeeded(fake_mnist, tmp_path,
                                                              monkeypatch, args, status, shown):
    real, calls = train_neuralnet.show_figure, []

    def show_figure(fig, no_show=False):
        calls.append(not no_show)
        real(fig, no_show=True)  # closes it; a window would wait for its user

    monkeypatch.setattr(train_neuralnet, "show_figure", show_figure)
    assert main(["--plot", str(tmp_path / "plot.png"), "--seed", "0", *args]) == status
    assert calls == shown


def test_cli_divergence_exits_1_with_a_message_and_the_plot(fake_mnist, tmp_path, capsys):
    assert run_cli(tmp_path, "--lr", "1000", "--save-params", str(tmp_path / "p.npz")) == 1
    out, err = capsys.readouterr()
    done = int(re.search(r"training diverged at iteration (\d+):", err)[1])
    assert "try a smaller one" in err
    assert f"\n{done} iteration{'' if done == 1 else 's'} in " in out  # not "1 iterations"
    assert (tmp_path / "plot.png").read_bytes().startswith(PNG_SIGNATURE)
    assert not (tmp_path / "p.npz").exists()  # the parameters of a blown-up run are not saved


def raise_at_iteration(monkeypatch, iteration, error):
    """Make TwoLayerNet.loss_and_gradient raise `error` in that iteration, after it worked for
    the ones before."""
    calls = 0
    real = TwoLayerNet.loss_and_gradient

    def failing(self, x, t):
        nonlocal calls
        calls += 1
        if calls == iteration + 1:
            raise error
        return real(self, x, t)

    monkeypatch.setattr(TwoLayerNet, "loss_and_gradient", failing)


def test_cli_out_of_memory_in_measuring_accuracy_asks_for_fewer_hidden_units(
        fake_mnist, tmp_path, capsys, monkeypatch):
    # The hidden layer of 1000 images at a time: a smaller --batch-size would not help.
    def measure_too_much(network, x, t):
        return np.empty((1000, 2**50), dtype=np.float32)  # NumPy's MemoryError: 4.5e18 bytes

    monkeypatch.setattr(train_neuralnet, "accuracy", measure_too_much)
    assert run_cli(tmp_path) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"out of memory measuring accuracy: Unable to allocate [\d.]+ EiB for an "
                        r"array with shape \(1000, 1125899906842624\) and data type float32; "
                        r"try a smaller --hidden-size\n", err)


@pytest.mark.parametrize("in_background", [False, True])
def test_cli_out_of_memory_in_the_last_measurement_keeps_the_files_and_says_so(
        fake_mnist, tmp_path, capsys, monkeypatch, in_background):
    # 1000 images in batches of 100: measured after iteration 0, then after the last, the third.
    monkeypatch.setattr(train_neuralnet, "ONE_BLAS_THREAD", in_background)
    real, calls = train_neuralnet.accuracy, 0

    def out_of_memory_the_second_time(network, x, t):
        nonlocal calls
        calls += 1
        if calls > 2:  # one call for the training images, one for the test images
            return np.empty((1000, 2**50), dtype=np.float32)
        return real(network, x, t)

    monkeypatch.setattr(train_neuralnet, "accuracy", out_of_memory_the_second_time)
    params = tmp_path / "p.npz"
    assert run_cli(tmp_path, "--iters", "3", "--save-params", str(params)) == 1
    out, err = capsys.readouterr()
    assert re.fullmatch(r"out of memory measuring accuracy after the last update: Unable to "
                        r"allocate [\d.]+ EiB for an array with shape \(1000, 1125899906842624\) "
                        r"and data type float32; try a smaller --hidden-size\n", err)
    assert "final accuracy" not in out  # the last epoch's would not be after the last update
    assert (tmp_path / "plot.png").read_bytes().startswith(PNG_SIGNATURE)
    assert TwoLayerNet.load(params).params["W1"].shape == (784, 50)  # trained all the same


def test_cli_out_of_memory_in_a_last_measurement_that_ends_after_the_saving_is_one_line(
        fake_mnist, tmp_path, capsys, monkeypatch):
    # Measured in the background, and still measuring when the files are saved.
    monkeypatch.setattr(train_neuralnet, "ONE_BLAS_THREAD", True)
    saved = threading.Event()
    real_accuracy, real_save, calls = train_neuralnet.accuracy, train_neuralnet.save_figure, 0

    def out_of_memory_after_the_saving(network, x, t):
        nonlocal calls
        calls += 1
        if calls > 2:  # after iteration 0's two: the measurement after the last update
            assert saved.wait(timeout=60)
            return np.empty((1000, 2**50), dtype=np.float32)
        return real_accuracy(network, x, t)

    def save_figure(fig, path):
        real_save(fig, path)
        saved.set()

    monkeypatch.setattr(train_neuralnet, "accuracy", out_of_memory_after_the_saving)
    monkeypatch.setattr(train_neuralnet, "save_figure", save_figure)
    assert run_cli(tmp_path, "--iters", "3") == 1
    out, err = capsys.readouterr()
    assert err.startswith("out of memory measuring accuracy after the last update: ")
    assert "final accuracy" not in out


def test_out_of_memory_for_the_copy_of_the_weights_to_measure_is_measurings(small_data):
    class TooBig:  # weights that can't be copied
        def copy(self):
            return np.empty((2**50, 1000), dtype=np.float32)

    with Evaluator(*small_data, report=print, in_background=True) as evaluator:
        evaluator.submit({"W1": TooBig()})  # raised where a measurement's own error is:
        with pytest.raises(MeasuringOutOfMemory, match=r"^Unable to allocate [\d.]+ EiB for an"):
            evaluator.report_finished()


def test_cli_ctrl_c_saves_what_was_done_and_exits_130(fake_mnist, tmp_path, capsys,
                                                      monkeypatch):
    raise_at_iteration(monkeypatch, 25, KeyboardInterrupt)
    assert run_cli(tmp_path, "--save-params", str(tmp_path / "p.npz")) == 130
    captured = capsys.readouterr()
    assert "interrupted after 25 iterations" in captured.err
    assert (tmp_path / "plot.png").read_bytes().startswith(PNG_SIGNATURE)
    assert TwoLayerNet.load(tmp_path / "p.npz").params["W1"].shape == (784, 50)


def test_cli_out_of_memory_is_one_line_and_keeps_what_was_done(fake_mnist, tmp_path, capsys,
                                                               monkeypatch):
    # Worded as NumPy's own _ArrayMemoryError, a MemoryError.
    raise_at_iteration(monkeypatch, 25, MemoryError(
        "Unable to allocate 44.7 GiB for an array with shape (60000, 200000) and data type "
        "float32"))
    assert run_cli(tmp_path, "--save-params", str(tmp_path / "p.npz")) == 1
    out, err = capsys.readouterr()
    assert ("out of memory at iteration 25: Unable to allocate 44.7 GiB for an array with "
            "shape (60000, 200000) and data type float32; try a smaller --batch-size or "
            "--hidden-size\n") in err
    assert "Traceback" not in err
    assert "25 iterations in " in out
    assert (tmp_path / "plot.png").read_bytes().startswith(PNG_SIGNATURE)
    assert not (tmp_path / "p.npz").exists()  # maybe half updated: not saved


@pytest.mark.parametrize("stop", ["diverged", "interrupted"])
def test_cli_with_no_iteration_done_leaves_earlier_files_as_they_were(
        fake_mnist, tmp_path, capsys, monkeypatch, stop):
    earlier = {tmp_path / "plot.png": b"an earlier run's plot", tmp_path / "p.npz": b"params"}
    for path, data in earlier.items():
        path.write_bytes(data)
    if stop == "interrupted":
        raise_at_iteration(monkeypatch, 0, KeyboardInterrupt)
        args, status = [], 130
    else:
        args, status = ["--lr", "1e300"], 1  # the weights overflow in the first update
    assert run_cli(tmp_path, "--save-params", str(tmp_path / "p.npz"), *args) == status
    out, err = capsys.readouterr()
    assert "0 iterations in " in out
    assert "no iteration finished, so no file was replaced\n" in err
    assert "saved to" not in out
    for path, data in earlier.items():
        assert path.read_bytes() == data


def test_cli_with_no_iteration_done_still_writes_into_a_named_pipe(fake_mnist, named_pipe,
                                                                    capsys):
    fifo, finish = named_pipe
    assert main(["--plot", str(fifo), "--no-show", "--seed", "0", "--lr", "1e300"]) == 1
    assert finish().startswith(PNG_SIGNATURE)  # its reader would otherwise wait forever
    out, err = capsys.readouterr()
    assert f"plot saved to {fifo}" in out and "so no file was replaced" in err


def test_cli_interrupted_before_the_first_iteration_writes_the_params_into_a_pipe(
        fake_mnist, tmp_path, named_pipe, monkeypatch, capsys):
    fifo, finish = named_pipe
    (tmp_path / "plot.png").write_bytes(b"an earlier run's plot")
    raise_at_iteration(monkeypatch, 0, KeyboardInterrupt)
    assert run_cli(tmp_path, "--save-params", str(fifo)) == 130
    assert finish().startswith(b"PK")  # an .npz, for the reader waiting on the pipe
    assert (tmp_path / "plot.png").read_bytes() == b"an earlier run's plot"
    assert "no iteration finished, so no file was replaced\n" in capsys.readouterr().err


def test_cli_out_of_memory_for_the_weights_is_one_line(fake_mnist, tmp_path, capsys,
                                                       monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError  # as Python's own, without a message

    monkeypatch.setattr(TwoLayerNet, "__init__", no_memory)
    assert run_cli(tmp_path) == 1
    err = capsys.readouterr().err
    assert err == "out of memory for the weights; try a smaller --hidden-size\n"
    assert not (tmp_path / "plot.png").exists()


@pytest.fixture
def sigterm_as_run_main_sets_it():
    """SIGTERM raising KeyboardInterrupt, as under run_main; put back afterwards, even if the
    test fails."""
    previous = signal.signal(signal.SIGTERM, sigterm_as_ctrl_c)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_ctrl_c_while_saving_finishes_saving_then_exits_130(
        fake_mnist, tmp_path, capsys, monkeypatch, sigterm_as_run_main_sets_it, signum):
    real = train_neuralnet.save_figure

    def ctrl_c_then_save(fig, path):
        os.kill(os.getpid(), signum)  # a real Ctrl-C or kill, in the middle of saving
        real(fig, path)

    monkeypatch.setattr(train_neuralnet, "save_figure", ctrl_c_then_save)
    try:
        status = run_cli(tmp_path, "--iters", "30", "--save-params", str(tmp_path / "p.npz"))
    except KeyboardInterrupt:
        pytest.fail("the signal stopped the saving instead of waiting for it")
    assert status == 130
    captured = capsys.readouterr()
    assert "interrupted while saving; finished saving first" in captured.err
    assert "final accuracy: train" in captured.out  # the run itself was complete
    assert (tmp_path / "plot.png").read_bytes().startswith(PNG_SIGNATURE)
    assert TwoLayerNet.load(tmp_path / "p.npz").params["W1"].shape == (784, 50)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    assert signal.getsignal(signal.SIGTERM) is sigterm_as_ctrl_c


def test_a_sigterm_handler_of_the_caller_is_left_alone_while_saving(fake_mnist, tmp_path,
                                                                     monkeypatch):
    # A program that calls main() itself, with its own SIGTERM handling, keeps it.
    real, received = train_neuralnet.save_figure, []

    def kill_then_save(fig, path):
        os.kill(os.getpid(), signal.SIGTERM)
        real(fig, path)

    monkeypatch.setattr(train_neuralnet, "save_figure", kill_then_save)
    previous = signal.signal(signal.SIGTERM, lambda *args: received.append(args[0]))
    try:
        assert run_cli(tmp_path, "--iters", "30") == 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert received == [signal.SIGTERM]


def test_weights_that_cant_be_copied_stop_training_at_once_behind_a_slow_measurement(
        small_data, monkeypatch):
    # 600 images in batches of 20: submits after iterations 0, 30, 60... The first measurement
    # is still running when the weights of the second can't be copied: training stops there,
    # as it did when submit raised (not when the first measurement happens to end).
    class TooBig:
        def copy(self):
            return np.empty((2**50, 1000), dtype=np.float32)

    real_measure, real_submit, submits, measures = Evaluator.measure, Evaluator.submit, [], []
    history, trainer = History(), threading.get_ident()

    def trainer_waits_for_a_measurement():
        frame = sys._current_frames().get(trainer)
        while frame is not None:
            if frame.f_code.co_name == "result" and "futures" in frame.f_code.co_filename:
                return True
            frame = frame.f_back
        return False

    def slow_measure(self, params):
        measures.append(params)
        if len(measures) == 1:  # until training waits for it, or goes on past the failed copy
            deadline = time.monotonic() + 60
            while not (trainer_waits_for_a_measurement() or len(history.train_loss_list) > 31):
                assert time.monotonic() < deadline, "training neither waited nor went on"
                time.sleep(0.001)
        return real_measure(self, params)

    def submit(self, params):
        submits.append(params)
        return real_submit(self, {"W1": TooBig()} if len(submits) == 2 else params)

    monkeypatch.setattr(Evaluator, "measure", slow_measure)
    monkeypatch.setattr(Evaluator, "submit", submit)
    with pytest.raises(MeasuringOutOfMemory):
        train(TwoLayerNet(20, 10, 3, rng=0), *small_data, iters=300, batch_size=20, rng=1,
              history=history, evaluate_in_background=True)
    assert len(history.train_loss_list) == 31
    assert len(history.train_acc_list) == 1  # the first measurement, still recorded
