"""The same run in PyTorch eager mode on the CPU, written the way PyTorch is usually written.

784-50-10 with a sigmoid hidden layer, weights from a normal distribution of standard deviation
0.01 and zero biases as in the book, softmax cross-entropy, plain SGD with lr 0.1, batches of
100 drawn with replacement, 10000 iterations, and accuracy on the full training and test sets
every 600 iterations, in float32 (PyTorch's default). Only for the benchmark; torch is never a
dependency of dlfs. Run it as `python -m benchmarks.torch_style [--iters N]`.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from ch04._figures import check_figure_path
from common.cli import positive, random_seed, run_main


def train(x_train, t_train, x_test, t_test, iters=10_000, batch_size=100, lr=0.1,
          hidden_size=50, log=print):
    """x_*: float32 NumPy images, t_*: integer labels. Returns (loss list, train acc, test acc)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    x_train, x_test = torch.from_numpy(x_train), torch.from_numpy(x_test)
    t_train, t_test = torch.from_numpy(t_train.astype(np.int64)), torch.from_numpy(
        t_test.astype(np.int64))
    model = nn.Sequential(nn.Linear(784, hidden_size), nn.Sigmoid(), nn.Linear(hidden_size, 10))
    for layer in (model[0], model[2]):  # the book's initialisation, not PyTorch's default
        nn.init.normal_(layer.weight, std=0.01)
        nn.init.zeros_(layer.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def accuracy(x, t):
        with torch.no_grad():
            return (model(x).argmax(dim=1) == t).float().mean().item()

    train_size = len(x_train)
    iter_per_epoch = max(train_size // batch_size, 1)
    train_loss_list, train_acc_list, test_acc_list = [], [], []
    for i in range(iters):
        batch_mask = torch.randint(train_size, (batch_size,))
        loss = F.cross_entropy(model(x_train[batch_mask]), t_train[batch_mask])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        train_loss_list.append(loss.item())
        if i % iter_per_epoch == 0:
            train_acc_list.append(accuracy(x_train, t_train))
            test_acc_list.append(accuracy(x_test, t_test))
            log(f"train acc, test acc | {train_acc_list[-1]}, {test_acc_list[-1]}")
    return train_loss_list, train_acc_list, test_acc_list


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.torch_style")
    parser.add_argument("--iters", type=positive(int), default=10_000)
    parser.add_argument("--seed", type=random_seed, default=None)
    parser.add_argument("--plot", type=Path, default=Path("torch_style.png"))
    args = parser.parse_args(argv)
    check_figure_path(parser, args.plot)  # first: --help works without PyTorch
    try:
        import torch
    except Exception as e:  # ImportError, or whatever a broken install raises
        print(f"this contender needs PyTorch, which fails to import here ({e}); it is never a "
              "dependency of dlfs: `pip install torch` to time it", file=sys.stderr)
        return 1

    from benchmarks.book_style import plot
    from dataset.mnist import load_mnist

    if args.seed is not None:
        torch.manual_seed(args.seed)
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
    _, train_acc_list, test_acc_list = train(x_train, t_train, x_test, t_test, iters=args.iters)
    plot(train_acc_list, test_acc_list, args.plot)
    return 0


if __name__ == "__main__":
    run_main(main)
