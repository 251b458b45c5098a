"""Numerical differentiation and plain gradient descent (book section 4.3 and 4.4).

These are the simple, general tools: one element at a time, central differences with h = 1e-4.
They are slow on purpose and easy to trust, which is what a gradient check needs.
`TwoLayerNet.numerical_gradient` takes the same differences faster, for that network only.
"""

import math

import numpy as np

H = 1e-4  # step of the central differences; fine in float64, not in float32 (see below)


def numerical_diff(f, x, h=H):
    """df/dx at the scalar x by the central difference (f(x + h) - f(x - h)) / 2h.

    x must not be a float32 (or float16) number: x + h would be rounded to 7 (or 3) digits,
    as numerical_gradient explains, and the slope at 5 comes out as 0.2003 (or 0).
    """
    h = _step(h)
    dtype = getattr(x, "dtype", None)  # None for Python numbers, which are float64
    if isinstance(dtype, np.dtype) and dtype.kind in "fc" and np.finfo(dtype).precision < 15:
        fix = "float(x)" if np.ndim(x) == 0 else "x.astype(np.float64)"
        raise TypeError(f"numerical_diff needs x in float64 precision, got {dtype} "
                        f"{x!s:.40}; convert it first, e.g. {fix}")
    return (f(x + h) - f(x - h)) / (2 * h)


def numerical_gradient(f, x, h=H):
    """Gradient of the scalar function f at the array x, of any shape, by central differences.

    f is called as f(x) while one element of x is perturbed *in place*, so f may also ignore its
    argument and read x through a reference of its own (as `lambda W: net.loss(x, t)` does).
    Each element is restored to its exact original value afterwards, even if f raises.

    x must be a float64 array. In float32 (about 7 digits), f(x + h) - f(x - h) cancels most
    digits of two nearly equal numbers: a loss of 2.3 whose slope is 0.01 comes out as 0.0095.
    And from |x| = 2048 up, x + h rounds back to x. An integer array cannot hold x + h at all.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(
            f"numerical_gradient perturbs x in place and needs a float64 array, got {got}; "
            "convert it first, e.g. x = np.asarray(x, dtype=np.float64)"
        )
    if not x.flags.writeable:
        raise ValueError("numerical_gradient perturbs x in place, but this x is read-only; "
                         "pass a writable copy, e.g. x = np.array(x, dtype=np.float64)")
    h = _step(h)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        try:
            x[idx] = saved + h
            f_plus = _scalar(f(x))
            x[idx] = saved - h
            f_minus = _scalar(f(x))
        finally:
            x[idx] = saved
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def _step(h):
    """h as a Python float (x + h and 2h in float64, whatever its type), if it is a number > 0
    that a float holds; else a ValueError naming it (also for inf and 10**400)."""
    is_number = isinstance(h, (int, float, np.integer, np.floating)) and not isinstance(h, bool)
    try:
        step = float(h) if is_number else math.nan
    except OverflowError:  # an int too large for a float
        step = math.inf
    if not 0 < step < math.inf:
        raise ValueError(f"h must be a small positive step, such as {H}, got {h!r}")
    return step


def _scalar(value):
    """f's value as a float; a TypeError naming it if it is not one number."""
    if np.ndim(value) != 0 or not np.isrealobj(value) or isinstance(value, (str, bytes)):
        shape = f" of shape {np.shape(value)}" if np.ndim(value) else ""
        raise TypeError(f"f must return one real number (the loss), got {type(value).__name__}"
                        f"{shape}: {value!r:.60}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"f must return one real number (the loss), got {value!r:.60}") from None


def gradient_descent(f, init_x, lr=0.01, step_num=100, *, return_history=False):
    """Minimise f by step_num steps of x ← x - lr * ∇f(x), from init_x (which is not modified).

    Returns the final point, as the book's does. With return_history=True, returns (x, history):
    also a (step_num + 1, *x.shape) array of every point visited, the start first and x last.

    f must compute from its argument. The steps are taken on a copy of init_x, so an f that
    ignores its argument and reads the original (as `lambda W: net.loss(x, t)` does for
    numerical_gradient) never sees them; the book's version moves init_x itself.
    """
    if not (isinstance(step_num, (int, np.integer)) and not isinstance(step_num, bool)
            and step_num >= 0):
        raise ValueError(f"step_num must be a whole number of steps, 0 or more, got {step_num!r}")
    if not (isinstance(lr, (int, float, np.integer, np.floating)) and np.isfinite(lr)):
        raise ValueError(f"lr must be a finite number, such as 0.01, got {lr!r}")
    x = np.array(init_x, dtype=np.float64)
    history = [x.copy()] if return_history else None
    for _ in range(step_num):
        x -= lr * numerical_gradient(f, x)
        if return_history:
            history.append(x.copy())
    return (x, np.array(history)) if return_history else x
