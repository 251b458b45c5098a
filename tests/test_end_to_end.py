"""The book's run on real MNIST, as a reader starts it, and the seed's own loop on our packages."""

import os
import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest


def test_default_run_reaches_the_books_accuracy(mnist_home, tmp_path):
    plot = tmp_path / "train_neuralnet.png"
    env = dict(os.environ, DLFS_DATA_HOME=str(mnist_home), MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, "-m", "ch04.train_neuralnet", "--no-show", "--seed", "0",
         "--plot", str(plot)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    accuracies = re.findall(r"^train acc, test acc \| (0\.\d+), (0\.\d+)$", result.stdout,
                            flags=re.MULTILINE)
    assert len(accuracies) == 17, result.stdout  # iterations 0, 600, ..., 9600, as in the book
    train_acc, test_acc = map(float, accuracies[-1])
    assert test_acc >= 0.94, result.stdout
    assert abs(train_acc - test_acc) < 0.02  # no overfitting in this run, as in the book
    # measured in a second thread while the plot was drawn
    assert re.search(r"^final accuracy: train 0\.9\d{3}, test 0\.9\d{3}$", result.stdout,
                     flags=re.MULTILINE), result.stdout
    assert plot.stat().st_size > 10_000


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "kill"])
def test_ctrl_c_stops_the_run_saving_the_plot_and_params(mnist_home, tmp_path, signum):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    env.update(DLFS_DATA_HOME=str(mnist_home), MPLBACKEND="Agg")  # and stdout is a pipe
    process = subprocess.Popen(
        [sys.executable, "-m", "ch04.train_neuralnet", "--no-show", "--seed", "0",
         "--plot", str(tmp_path / "p.png"), "--save-params", str(tmp_path / "p.npz")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_lines = read_lines(process, 2)  # the seed, then iteration 0
    assert first_lines[1].startswith("train acc, test acc | "), first_lines
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert re.fullmatch(r"interrupted after \d+ iterations?\n", stderr), stderr
    assert (tmp_path / "p.png").stat().st_size > 10_000
    assert (tmp_path / "p.npz").is_file()
    assert "plot saved to" in stdout and "parameters saved to" in stdout


def test_a_reader_that_stops_reading_ends_the_run_quietly_without_saving(mnist_home, tmp_path):
    """`python -m ch04.train_neuralnet | head -2`: the run ends at the next line it prints,
    with 141, no traceback, and no half-run plot over one the user may have."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    env.update(DLFS_DATA_HOME=str(mnist_home), MPLBACKEND="Agg")
    with subprocess.Popen(
            [sys.executable, "-m", "ch04.train_neuralnet", "--no-show", "--seed", "0",
             "--plot", str(tmp_path / "p.png")],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True) as process:
        first_lines = read_lines(process, 2)  # seed, iteration 0
        assert first_lines[1].startswith("train acc, test acc | "), first_lines
        process.stdout.close()
        stderr = process.stderr.read()
        assert process.wait(timeout=120) == 141, stderr
    assert stderr == ""
    assert list(tmp_path.iterdir()) == []  # no plot, and no temporary file either


def read_lines(process, count, timeout=300):
    """The first `count` lines of process's stdout; a run that stops printing is killed, so
    that the test fails (on the lines it got) instead of waiting forever."""
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        return [process.stdout.readline() for _ in range(count)]
    finally:
        watchdog.cancel()


def test_the_seeds_training_loop_runs_unchanged_on_our_packages(mnist_home, monkeypatch):
    """The seed's loop as a reader types it, but for the import lines (no sys.path hack) and
    fewer iterations: one-hot labels, network.gradient, params updated through the dict."""
    monkeypatch.setenv("DLFS_DATA_HOME", str(mnist_home))
    from ch04.two_layer_net import TwoLayerNet
    from dataset.mnist import load_mnist

    np.random.seed(0)
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

    iters_num = 1200  # the seed has 10000; two epochs keep the test short
    train_size = x_train.shape[0]
    batch_size = 100
    learning_rate = 0.1
    train_loss_list = []
    train_acc_list = []
    test_acc_list = []
    iter_per_epoch = max(train_size / batch_size, 1)

    for i in range(iters_num):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch = x_train[batch_mask]
        t_batch = t_train[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ('W1', 'b1', 'W2', 'b2'):
            network.params[key] -= learning_rate * grad[key]
        loss = network.loss(x_batch, t_batch)
        train_loss_list.append(loss)
        if i % iter_per_epoch == 0:
            train_acc = network.accuracy(x_train, t_train)
            test_acc = network.accuracy(x_test, t_test)
            train_acc_list.append(train_acc)
            test_acc_list.append(test_acc)

    # The book's curve: about 0.1 after the first iteration, then 0.78 and 0.87 or so.
    assert test_acc_list[0] < 0.3
    assert test_acc_list[1] > 0.7
    assert np.mean(train_loss_list[-100:]) < 0.6 < np.mean(train_loss_list[:10])
    assert network.params["W1"].dtype == np.float64  # the book's precision by default


def test_the_script_measures_accuracy_in_a_second_thread(mnist_home, tmp_path):
    # Run as `python -m ch04.train_neuralnet` runs it (NumPy not loaded yet, no BLAS setting of
    # the user's), but with main called here, to see which thread measures.
    code = ("import runpy, threading\n"
            "import common.cli\n"
            "common.cli.run_main = lambda main: None  # main is called below instead\n"
            "script = runpy.run_module('ch04.train_neuralnet', run_name='__main__')\n"
            "measure, in_main_thread = script['Evaluator'].measure, []\n"
            "def spy(self, params):\n"
            "    in_main_thread.append(threading.current_thread() is threading.main_thread())\n"
            "    return measure(self, params)\n"
            "script['Evaluator'].measure = spy\n"
            "status = script['main'](['--iters', '2', '--seed', '0', '--quiet', '--no-show'])\n"
            "print(status, in_main_thread)\n")
    env = {key: value for key, value in os.environ.items()
           if key not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                          "OMP_NUM_THREADS")}
    env.update(DLFS_DATA_HOME=str(mnist_home), MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # At iteration 0, and after the last update (iteration 1) while the plot is drawn.
    assert result.stdout.splitlines()[-1] == "0 [False, False]", result.stdout
