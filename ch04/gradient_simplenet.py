"""The gradient of a neural network's loss with respect to its weights: book section 4.4.2.

    python -m ch04.gradient_simplenet                  # weights drawn with the default seed
    python -m ch04.gradient_simplenet --book-weights   # the weights the book happens to print

`SimpleNet` is one 2×3 weight matrix W and nothing else: scores x @ W, softmax, cross-entropy.
For the book's example x = [0.6, 0.9] with true class 2, the script prints W, the scores, the
predicted class, the loss and dW = ∂loss/∂W by numerical differentiation. dW[i, j] says how fast
the loss changes when W[i, j] grows: a positive entry means W[i, j] should go down.

With --book-weights the scores match the book's printout; the loss and dW match it to about
seven digits. The rest is the 1e-7 that cross_entropy_error adds inside its log, which lowers
the loss by about 1e-7 / y[2] = 2.5e-7 here: the book's printed loss (0.9280685366...) and dW
agree with the loss computed without it.

Left out on purpose: biases, hidden layers and training (the two-layer net of section 4.5, in
ch04/two_layer_net.py, has them), and a figure: six numbers read best as printed.
"""

import argparse

import numpy as np

from common.cli import random_seed, run_main
from common.functions import cross_entropy_error, softmax
from common.gradient import numerical_gradient

X = (0.6, 0.9)  # the book's input
T = (0, 0, 1)  # its one-hot label: the true class is 2
SEED = 0
# The W printed in the book. Its code draws np.random.randn(2, 3), though six values all in
# [0, 1) look more like np.random.rand; no seed we know of gives them.
BOOK_W = ((0.47355232, 0.9977393, 0.84668094), (0.85557411, 0.03563661, 0.69422093))


class SimpleNet:
    """A single layer without bias: scores = x @ W, loss = cross-entropy of softmax(scores).

    W: (2, 3) float64, standard normal. Pass W itself, or rng, a np.random.Generator or seed to
    draw it from; with neither, it is the book's np.random.randn(2, 3), from NumPy's global
    random state (so np.random.seed(...) repeats it, as for TwoLayerNet).
    """

    def __init__(self, W=None, *, rng=None):
        if W is None:
            W = (np.random.randn(2, 3) if rng is None  # NumPy's global random state, as in the book
                 else np.random.default_rng(rng).standard_normal((2, 3)))
        # A float64 copy of our own: numerical_gradient perturbs self.W in place.
        self.W = np.array(W, dtype=np.float64)
        if self.W.ndim != 2 or 0 in self.W.shape:
            raise ValueError(f"W must be a 2-D (inputs, classes) matrix, got shape {self.W.shape}")

    def predict(self, x):
        """x: (2,) or (N, 2) → scores of shape (3,) or (N, 3)."""
        x = np.asarray(x)
        if x.ndim not in (1, 2) or x.shape[-1] != len(self.W):
            raise ValueError(f"x has shape {x.shape}, but this network takes {len(self.W)} "
                             f"inputs per example, as ({len(self.W)},) or (N, {len(self.W)})")
        return x @ self.W  # rows are examples: x @ W, not W @ x

    def loss(self, x, t):
        """Cross-entropy of softmax(predict(x)) against t (one-hot or integer labels) → float."""
        return cross_entropy_error(softmax(self.predict(x)), t)

    def numerical_gradient(self, x, t):
        """∂loss/∂W at (x, t) by central differences → (2, 3) float64, W's shape."""
        # The argument is self.W itself, perturbed in place, so the lambda can ignore it.
        return numerical_gradient(lambda W: self.loss(x, t), self.W)


simpleNet = SimpleNet  # the book's name for it


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ch04.gradient_simplenet",
        description="Print the numerical gradient of a one-layer network's loss with respect to "
                    "its 2×3 weights (Deep Learning from Scratch, section 4.4.2).",
    )
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--seed", type=random_seed, default=SEED,
                         help="seed for drawing W (default: %(default)s)")
    weights.add_argument("--book-weights", action="store_true",
                         help="use the W printed in the book instead of a random one")
    args = parser.parse_args(argv)

    net = SimpleNet(BOOK_W) if args.book_weights else SimpleNet(rng=args.seed)
    x, t = np.array(X), np.array(T)
    p = net.predict(x)
    dW = net.numerical_gradient(x, t)

    print("W =", "the book's" if args.book_weights else f"random, seed {args.seed}")
    print(net.W)
    print(f"x = {x}, t = {t}")
    print("scores x @ W =", p)
    print("predicted class:", np.argmax(p), f"(true class: {np.argmax(t)})")
    print("loss:", net.loss(x, t))
    print("dW =")
    print(dW)
    print("reading dW: dW[i, j] > 0 means raising W[i, j] raises the loss, so gradient descent "
          "lowers W[i, j]; < 0, the reverse")
    return 0


if __name__ == "__main__":
    run_main(main)
