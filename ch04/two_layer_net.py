"""TwoLayerNet: the two-layer network of book section 4.5, trained in ch04/train_neuralnet.py.

    x ─(W1, b1)→ a1 ─sigmoid→ z1 ─(W2, b2)→ a2 ─softmax→ y,   loss = cross-entropy(y, t)

The loss is computed from the scores a2 by `softmax_loss`: the book's
cross_entropy_error(softmax(a2), t) without its 1e-7, so that backpropagation's (y - t) / N
is its exact gradient and the gradient checks can be tight.

Rows are examples, so layers are written `x @ W1`, not `W1 @ x` as in some texts.
Labels t may be one-hot (N, C) or integer (N,) everywhere; the book's `accuracy` and `gradient`
need one-hot (for a batch of 10, its `gradient` takes integer labels and silently goes wrong).
The forward pass is written once, in `_forward`.

Two ways to get the gradient, as in the book:
- `numerical_gradient`: central differences, the slow but obviously right way;
- `gradient`: backpropagation, the fast way (chapter 5 explains why it works).

Left out on purpose: layers as classes, other optimisers, weight decay (chapters 5 and 6).
"""

import os
import stat
import zipfile

import numpy as np

from common.files import atomic_write, open_without_waiting
from common.functions import (
    class_indices,
    sigmoid,
    softmax,
    softmax_cross_entropy_parts,
    softmax_loss,
)
from common.gradient import H

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def _as_batch(x, t):
    """A single example x of shape (input,) becomes a batch of one, and its label t with it.

    Raises ValueError for a batch of no examples, whose mean loss or accuracy would be 0 / 0.
    """
    x = np.asarray(x)
    if x.ndim == 1:
        return x[np.newaxis], np.asarray(t)[np.newaxis]
    if x.shape[:1] == (0,):
        raise ValueError(f"no examples: x has shape {x.shape}; give at least one")
    return x, t


def _check_input(x, num_inputs):
    """Raise ValueError unless x has shape (N, num_inputs) or (num_inputs,)."""
    if x.ndim > 2 or x.shape[-1:] != (num_inputs,):
        hint = (": flatten images with x.reshape(len(x), -1), as load_mnist(flatten=True) does"
                if x.ndim > 2 else "")
        raise ValueError(f"x has shape {x.shape}, but this network takes {num_inputs} inputs per "
                         f"example, as (N, {num_inputs}) or ({num_inputs},){hint}")


def _is_positive_integer(n):
    """True for 1, 2, ... as a Python or NumPy integer; False for True, 2.0 and 0."""
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1


class TwoLayerNet:
    """A fully connected network with one sigmoid hidden layer and a softmax output.

    params: dict of W1 (input, hidden), b1 (hidden,), W2 (hidden, output), b2 (output,).
    It computes in the dtype of its parameters: `dtype` (float64 by default, float32 for fast
    training). Inputs are converted to that dtype.

    Weights are weight_init_std * standard normal, biases zero. Without `rng` they come from
    NumPy's global random state, as in the book, so np.random.seed(...) repeats them; `rng` may
    be a np.random.Generator or a seed.
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        output_size,
        weight_init_std=0.01,
        *,
        rng=None,
        dtype=np.float64,
    ):
        sizes = {"input_size": input_size, "hidden_size": hidden_size, "output_size": output_size}
        for name, size in sizes.items():
            if not _is_positive_integer(size):
                raise ValueError(f"{name} must be a positive integer, got {size!r}")
        if not (isinstance(weight_init_std, (int, float, np.integer, np.floating))
                and np.isfinite(weight_init_std)):
            raise ValueError(f"weight_init_std must be a finite number, such as 0.01, "
                             f"got {weight_init_std!r}")
        if not np.issubdtype(dtype, np.floating):  # integers would round the weights to 0
            raise ValueError(f"dtype must be floating-point, got {np.dtype(dtype)}: "
                             "use np.float32 or np.float64")
        if rng is None:
            randn = np.random.randn  # NumPy's global random state, as in the book
        else:
            generator = np.random.default_rng(rng)

            def randn(*shape):
                return generator.standard_normal(shape)

        self.params = {
            "W1": (weight_init_std * randn(input_size, hidden_size)).astype(dtype),
            "b1": np.zeros(hidden_size, dtype=dtype),
            "W2": (weight_init_std * randn(hidden_size, output_size)).astype(dtype),
            "b2": np.zeros(output_size, dtype=dtype),
        }

    @property
    def dtype(self):
        return self.params["W1"].dtype

    def _forward(self, x, params=None):
        """The forward pass, with self.params or `params` (a dict like it), in their dtype.

        x: (N, input) or (input,) → (x, a1, z1, a2): the input in the params' dtype, the hidden
        layer before and after the sigmoid, and the scores.
        """
        params = self.params if params is None else params
        W1, b1, W2, b2 = (params[name] for name in PARAM_NAMES)
        x = np.asarray(x, dtype=W1.dtype)
        _check_input(x, len(W1))
        a1 = x @ W1 + b1
        z1 = sigmoid(a1)
        a2 = z1 @ W2 + b2
        return x, a1, z1, a2

    def predict(self, x):
        """x: (N, input) → (N, output) class probabilities; one (input,) example → (output,)."""
        return softmax(self._forward(x)[-1])

    def loss(self, x, t):
        """Mean cross-entropy of the predictions for x against the labels t → float."""
        x, t = _as_batch(x, t)
        return softmax_loss(self._forward(x)[-1], t)

    def accuracy(self, x, t, batch_size=1000):
        """Fraction of examples whose most probable class is the label, in [0, 1].

        Works through x in slices of batch_size rows. Small slices keep every temporary array
        small: a float64 network makes no float64 copy of all 60,000 training images, and no
        array is big enough to be given fresh pages by the OS each time (page faults).
        """
        if not _is_positive_integer(batch_size):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        x, t = _as_batch(x, t)
        _check_input(x, len(self.params["W1"]))
        labels = class_indices(t, (len(x), len(self.params["b2"])))  # checked once, for all of x
        correct = 0
        for start in range(0, len(x), batch_size):
            batch = slice(start, start + batch_size)
            scores = self._forward(x[batch])[-1]  # argmax(softmax) = argmax
            correct += int(np.count_nonzero(scores.argmax(axis=1) == labels[batch]))
        return correct / len(x)

    def gradient(self, x, t):
        """Gradient of the loss for every parameter, by backpropagation → dict like params."""
        return self.loss_and_gradient(x, t)[1]

    def loss_and_gradient(self, x, t):
        """The loss and its gradient from one forward pass → (float, dict like params).

        Each backward line is the chain rule for the forward line of the same name.
        """
        W2 = self.params["W2"]
        x, t = _as_batch(x, t)
        x, _, z1, a2 = self._forward(x)
        labels = class_indices(t, a2.shape)  # checked once, here
        e, sum_e, losses = softmax_cross_entropy_parts(a2, labels)  # one exp for both:
        loss, y = losses.mean(), e / sum_e  # softmax_loss(a2, t) and softmax(a2)

        n = len(x)
        da2 = y  # softmax + cross-entropy: dL/da2 = (y - onehot(t)) / n, computed in place
        da2[np.arange(n), labels] -= 1
        da2 /= n
        dz1 = da2 @ W2.T
        da1 = dz1 * z1 * (1 - z1)  # sigmoid'(a1) = z1 * (1 - z1)
        grads = {
            "W1": x.T @ da1,
            "b1": da1.sum(axis=0),
            "W2": z1.T @ da2,
            "b2": da2.sum(axis=0),
        }
        return loss, grads

    def numerical_gradient(self, x, t):
        """Gradient of the loss for every parameter, by central differences → dict like params.

        The same differences (loss(p + h) - loss(p - h)) / 2h with h = 1e-4 as the book's
        one-weight-at-a-time loop, always in float64, but much faster: changing one weight of W1
        or b1 changes a single hidden unit, and one of W2 or b2 a single score, so each perturbed
        loss is computed from the unperturbed forward pass, many weights at once.
        """
        p = {name: value.astype(np.float64) for name, value in self.params.items()}
        x, t = _as_batch(x, t)
        x, a1, z1, a2 = self._forward(x, p)
        labels = class_indices(t, a2.shape)

        def losses(scores):
            """(..., n, C) perturbed scores → (...,) the loss for each perturbation.

            softmax_loss for many score arrays at once, computed in place in `scores`.
            """
            return softmax_cross_entropy_parts(scores, labels, overwrite=True)[2].mean(axis=-1)

        def central_difference(loss_at):
            return (loss_at(H) - loss_at(-H)) / (2 * H)

        # W1[i, j] += h moves a1[:, j] by h * x[:, i], and b1[j] += h moves it by h: b1 is like
        # a row of W1 for an input that is always 1. All of them at once, a hidden unit at a
        # time. An input that is 0 in every example (a third of MNIST's pixels, in a batch of
        # 100) leaves every score as it is: the book's loop finds exactly 0 for its weights.
        used = np.flatnonzero(np.any(x != 0, axis=0))
        inputs = np.vstack([x.T[used], np.ones(len(x))])  # (inputs used + 1, n)
        # One array for the perturbed scores (4 MB for MNIST), reused for every hidden unit:
        # fresh ones can cost a page fault per 4 KB every time (two to three times slower).
        scores = np.empty((len(inputs), *a2.shape))

        def hidden_unit_losses(j, h):
            """Losses when W1[used, j] or b1[j] moves by h (one perturbation per row of inputs)."""
            z1_change = sigmoid(a1[:, j] + h * inputs) - z1[:, j]
            perturbed = np.multiply(z1_change[..., np.newaxis], p["W2"][j], out=scores)
            perturbed += a2
            return losses(perturbed)

        first_layer = np.stack([central_difference(lambda h, j=j: hidden_unit_losses(j, h))
                                for j in range(a1.shape[1])], axis=1)  # rows: W1[used], b1
        grads = {"W1": np.zeros_like(p["W1"]), "b1": first_layer[-1]}
        grads["W1"][used] = first_layer[:-1]
        eye = np.eye(a2.shape[1])
        grads |= {
            # W2[j, k] += h moves a2[:, k] by h * z1[:, j]: all (j, k) at once.
            "W2": central_difference(lambda h: losses(
                a2 + h * z1.T[:, np.newaxis, :, np.newaxis] * eye[:, np.newaxis, :])),
            # b2[k] += h moves a2[:, k] by h.
            "b2": central_difference(lambda h: losses(a2 + h * eye[:, np.newaxis, :])),
        }
        return {name: grads[name].astype(self.dtype) for name in PARAM_NAMES}

    def save(self, path):
        """Write the parameters to `path` as an uncompressed .npz file (no pickle), atomically."""
        with atomic_write(path) as f:
            np.savez(f, **self.params)

    @classmethod
    def load(cls, path):
        """A network with the parameters saved by `save`; sizes and dtype come from the file.

        Raises OSError if the file can't be read, and ValueError, naming the file, if it doesn't
        hold a TwoLayerNet's parameters.
        """
        # OSError if it is missing or a folder. A named pipe opens without waiting for a writer,
        # and everything below reads the file that was opened and checked, not the path again.
        with open(path, "rb", opener=open_without_waiting) as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # /dev/zero would never end
                raise ValueError(f"{path} is not a file of saved parameters")
            if not zipfile.is_zipfile(f):  # a .npy, a text file, an empty one...
                raise ValueError(f"{path} is not an .npz file of saved parameters")
            f.seek(0)
            try:
                with np.load(f, allow_pickle=False) as data:
                    missing = [name for name in PARAM_NAMES if name not in data.files]
                    params = {name: data[name] for name in PARAM_NAMES if name not in missing}
            # Whatever a damaged file makes zipfile, zlib or np.load raise: BadZipFile, zlib.error,
            # EOFError, ValueError, SyntaxError from an array's header, RuntimeError ("encrypted"),
            # NotImplementedError (compression method)...
            except Exception as e:
                raise ValueError(f"{path} is damaged: {e}") from e
        if missing:
            raise ValueError(f"{path} is not a saved TwoLayerNet: it lacks {', '.join(missing)}")
        # np.load gives the raw bytes of a member that is not .npy data.
        not_arrays = [name for name, value in params.items() if not isinstance(value, np.ndarray)]
        if not_arrays:
            raise ValueError(f"{path} is damaged: {', '.join(not_arrays)} hold no .npy data")
        W1, b1, W2, b2 = (params[name] for name in PARAM_NAMES)
        if not (W1.ndim == W2.ndim == 2 and b1.shape == W1.shape[1:] == W2.shape[:1]
                and b2.shape == W2.shape[1:]):
            shapes = ", ".join(f"{name} {value.shape}" for name, value in params.items())
            raise ValueError(f"{path} holds parameters of inconsistent shapes: {shapes}")
        if 0 in W1.shape + W2.shape:
            raise ValueError(f"{path} holds an empty network: W1 {W1.shape}, W2 {W2.shape}")
        if not all(np.issubdtype(value.dtype, np.floating) for value in params.values()):
            raise ValueError(f"{path} holds parameters that are not floating-point numbers")
        return cls.from_params(params)

    @classmethod
    def from_params(cls, params):
        """A network that computes with `params`, a dict of W1, b1, W2, b2 (used as they are)."""
        net = cls.__new__(cls)
        net.params = params
        return net
