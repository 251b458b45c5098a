"""The baseline: the book's algorithm as a reader would type it, in plain NumPy.

Written for the benchmark only, from the book's description: float64 weights from
np.random.randn, sigmoid as 1 / (1 + exp(-x)), the softmax of the transposed batch,
cross-entropy with 1e-7, the gradient by backprop with sigmoid recomputed, one-hot labels,
a second forward pass after each update to record the loss, and accuracy by argmax on
one-hot labels. Run it as `python -m benchmarks.book_style [--iters N]`; it prints the
book's lines and, like the book, keeps everything in memory at once.
"""

import argparse
from pathlib import Path

import numpy as np

from ch04._figures import check_figure_path, save_figure
from common.cli import positive, random_seed, run_main


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        return (np.exp(x) / np.sum(np.exp(x), axis=0)).T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t, y = t.reshape(1, t.size), y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class BookTwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {
            "W1": weight_init_std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def predict(self, x):
        p = self.params
        z1 = sigmoid(np.dot(x, p["W1"]) + p["b1"])
        return softmax(np.dot(z1, p["W2"]) + p["b2"])

    def loss(self, x, t):
        return cross_entropy_error(self.predict(x), t)

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        return np.sum(y == np.argmax(t, axis=1)) / float(x.shape[0])

    def gradient(self, x, t):
        p = self.params
        a1 = np.dot(x, p["W1"]) + p["b1"]
        z1 = sigmoid(a1)
        y = softmax(np.dot(z1, p["W2"]) + p["b2"])
        dy = (y - t) / x.shape[0]
        da1 = np.dot(dy, p["W2"].T) * (1.0 - sigmoid(a1)) * sigmoid(a1)
        return {
            "W1": np.dot(x.T, da1),
            "b1": np.sum(da1, axis=0),
            "W2": np.dot(z1.T, dy),
            "b2": np.sum(dy, axis=0),
        }


def train(x_train, t_train, x_test, t_test, iters=10_000, batch_size=100, lr=0.1,
          hidden_size=50, log=print):
    """The book's loop, t_* one-hot → (train_loss_list, train_acc_list, test_acc_list)."""
    network = BookTwoLayerNet(input_size=784, hidden_size=hidden_size, output_size=10)
    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / batch_size, 1)
    train_loss_list, train_acc_list, test_acc_list = [], [], []
    for i in range(iters):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= lr * grad[key]
        train_loss_list.append(network.loss(x_batch, t_batch))
        if i % iter_per_epoch == 0:
            train_acc_list.append(network.accuracy(x_train, t_train))
            test_acc_list.append(network.accuracy(x_test, t_test))
            log(f"train acc, test acc | {train_acc_list[-1]}, {test_acc_list[-1]}")
    return train_loss_list, train_acc_list, test_acc_list


def plot(train_acc_list, test_acc_list, path):
    import matplotlib.pyplot as plt

    x = np.arange(len(train_acc_list))
    plt.plot(x, train_acc_list, label="train acc")
    plt.plot(x, test_acc_list, label="test acc", linestyle="--")
    plt.xlabel("epochs")
    plt.ylabel("accuracy")
    plt.ylim(0, 1.0)
    plt.legend(loc="lower right")
    save_figure(plt.gcf(), path)  # as the scripts save theirs: also into /dev/null or a pipe


def main(argv=None):
    from dataset.mnist import load_mnist

    parser = argparse.ArgumentParser(prog="python -m benchmarks.book_style")
    parser.add_argument("--iters", type=positive(int), default=10_000)
    parser.add_argument("--seed", type=random_seed, default=None)
    parser.add_argument("--plot", type=Path, default=Path("book_style.png"))
    args = parser.parse_args(argv)
    check_figure_path(parser, args.plot)
    if args.seed is not None:
        np.random.seed(args.seed)
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
    _, train_acc_list, test_acc_list = train(x_train, t_train, x_test, t_test, iters=args.iters)
    plot(train_acc_list, test_acc_list, args.plot)
    return 0


if __name__ == "__main__":
    run_main(main)
