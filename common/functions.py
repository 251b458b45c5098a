"""Activation and loss functions of chapters 3 and 4, one short formula each.

Rows are examples: a batch `x` has shape (N, features) and every function works row by row,
so a single example of shape (features,) works too.

Labels may be given either way the book uses them, and are converted in one place,
`class_indices`:
- one-hot: the same shape as the prediction `y`, e.g. (N, 10). As in the book's own
  common/functions.py, the class is where each row is largest, so the book's dummy labels
  `np.random.rand(100, 10)` (section 4.5.1) work too;
- integer class labels: `y`'s shape without the last axis, e.g. (N,), or a scalar for one example.

Left out on purpose: the layer classes of chapter 5 (`Affine`, `SoftmaxWithLoss`, ...).
"""

import numpy as np


def identity_function(x):
    return x


def step_function(x):
    """1 where x > 0, else 0, as integers."""
    return (np.asarray(x) > 0).astype(int)


def sigmoid(x):
    """1 / (1 + exp(-x)), written with tanh so that no input overflows (x = -1000 gives 0.0)."""
    return 0.5 * np.tanh(0.5 * np.asarray(x)) + 0.5


def sigmoid_grad(x):
    """Derivative of the sigmoid at x: s * (1 - s) with s = sigmoid(x)."""
    s = sigmoid(x)
    return s * (1 - s)


def relu(x):
    return np.maximum(0, x)


def relu_grad(x):
    """1 where x > 0, else 0. ReLU has no derivative at 0; we use 0 there, as most frameworks do."""
    return np.where(np.asarray(x) > 0, 1.0, 0.0)


def softmax(x):
    """Row-wise softmax. x: (C,) or (N, C) → same shape; each row sums to 1.

    The row maximum is subtracted first, which leaves the result unchanged and keeps exp from
    overflowing (softmax([1000, 1000]) is [0.5, 0.5]). Integers are converted to float first:
    x - max would wrap around in a small integer type.
    """
    x = _floats(x)
    with np.errstate(over="ignore"):  # finite x - max may round to -inf: its exp is the right 0
        shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def sum_squared_error(y, t):
    """0.5 * Σ (y - t)², summed over the whole batch as in the book; t one-hot or integer labels."""
    y, t = _floats(y), np.asarray(t)
    if t.shape != y.shape:
        t = one_hot(class_indices(t, y.shape), y.shape[-1], dtype=y.dtype)
    return 0.5 * np.sum((y - t) ** 2)


def cross_entropy_error(y, t):
    """Mean over the batch of -log(y[true class] + 1e-7).

    y: (C,) or (N, C) probabilities; t: one-hot or integer labels → float.
    Like the book we add 1e-7 inside the log, so that a probability of exactly 0 gives a large
    but finite loss (-log(1e-7) ≈ 16.1) instead of inf. The price is a tiny bias: a perfect
    prediction scores -log(1 + 1e-7) ≈ -1e-7, just below 0.
    """
    rows, labels = _rows_and_labels(y, t)
    return -np.mean(np.log(rows[np.arange(len(rows)), labels] + 1e-7))


def softmax_loss(x, t):
    """Cross-entropy of softmax(x) against t, computed from the scores x directly.

    x: (C,) or (N, C) scores; t: one-hot or integer labels → float, the mean over the batch.
    Equal to cross_entropy_error(softmax(x), t) but for its 1e-7: log softmax(x)[t] is
    x[t] - log Σ exp(x), with the row maximum subtracted first, so it is exact and never
    overflows. Its gradient with respect to x is exactly (softmax(x) - one-hot t) / N.
    """
    rows, labels = _rows_and_labels(x, t)
    return softmax_cross_entropy_parts(rows, labels)[2].mean()


def _rows_and_labels(y, t):
    """y as a batch of rows (N, C) and t as their (N,) integer labels, for a mean over N ≥ 1."""
    y = np.asarray(y)
    labels = class_indices(t, y.shape).reshape(-1)  # first: it also checks y's shape
    rows = y.reshape(-1, y.shape[-1])
    if len(rows) == 0:
        raise ValueError(f"no examples: predictions of shape {y.shape}; a loss is a mean over "
                         "at least one example")
    return rows, labels


def softmax_cross_entropy_parts(scores, labels, overwrite=False):
    """softmax and softmax_loss from one exp, for any number of batches at once.

    scores: (..., N, C); labels: (N,) integer class indices, not checked.
    → exp(scores - row max), its row sums (..., N, 1), and each example's cross-entropy
    log Σ exp(scores) - scores[label], (..., N). softmax is exp / row sums; the loss, the
    cross-entropies' mean over N. TwoLayerNet's backward pass needs both.
    overwrite: compute in `scores` itself, which ends up holding the exp, instead of in new
    arrays of its size (for many large batches, where fresh arrays cost page faults).
    """
    out = scores if overwrite else None
    with np.errstate(over="ignore"):  # as in softmax: a score - max of -inf has exp 0, rightly
        shifted = np.subtract(scores, scores.max(axis=-1, keepdims=True), out=out)
    label_scores = shifted[..., np.arange(len(labels)), labels]  # a copy, taken before the exp
    e = np.exp(shifted, out=out)
    sum_e = e.sum(axis=-1, keepdims=True)
    return e, sum_e, np.log(sum_e[..., 0]) - label_scores


def _floats(x):
    """x as an array of floats: float64 for integers and booleans, a float dtype as it is."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.inexact) else x.astype(np.float64)


def class_indices(t, y_shape):
    """Return the labels t as integer class indices for predictions of shape y_shape (..., C).

    t: one-hot with shape y_shape (each row's largest entry is its class), or integer labels
    with shape y_shape[:-1].
    → integer array with shape y_shape[:-1].
    Raises ValueError, naming the shapes or the values, when t fits neither form.
    """
    t, y_shape = np.asarray(t), tuple(y_shape)
    if len(y_shape) == 0:
        raise ValueError("predictions need a class axis, shape (C,) or (N, C), got a scalar")
    shape, num_classes = y_shape[:-1], y_shape[-1]
    if t.shape == y_shape:
        return np.argmax(t, axis=-1)
    if t.shape != shape:
        raise ValueError(
            f"labels of shape {t.shape} don't match predictions of shape {y_shape}: "
            f"expected one-hot labels of shape {y_shape} or integer labels of shape {shape}"
        )
    if t.dtype.kind not in "iu":
        raise ValueError(f"integer labels must have an integer dtype, got {t.dtype}")
    if t.size and (t.max() >= num_classes or (t.dtype.kind == "i" and t.min() < 0)):
        bad = t[(t < 0) | (t >= num_classes)].flat[0]
        raise ValueError(
            f"labels must lie in [0, {num_classes - 1}] for {num_classes} classes, got {bad}")
    return t


def one_hot(labels, num_classes, dtype=np.float32):
    """Integer labels of shape S → one-hot array of shape S + (num_classes,)."""
    return np.eye(num_classes, dtype=dtype)[labels]
