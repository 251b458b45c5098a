"""common.gradient: central differences, in-place perturbation that is always undone, descent."""

import tracemalloc

import numpy as np
import pytest

from common.gradient import gradient_descent, numerical_diff, numerical_gradient


def sum_of_squares(x):
    return np.sum(x**2)


def test_numerical_diff_is_a_central_difference():
    # For a cubic the central difference is off by exactly h² = 1e-8; a forward one by 3h·x².
    assert numerical_diff(lambda x: x**3, 2.0) == pytest.approx(12.0 + 1e-8, abs=1e-9)


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
def test_numerical_gradient_of_sum_of_squares_is_2x(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_allclose(numerical_gradient(sum_of_squares, x), 2 * x, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
# Values far smaller than h too: undoing the step by arithmetic would not restore them (in
# float64, 1e-9 + h - h is 1.0000000000021927e-09).
@pytest.mark.parametrize("scale", [1, 1e-9])
def test_numerical_gradient_restores_its_input_exactly(shape, scale):
    x = scale * np.random.default_rng(1).standard_normal(shape)
    before = x.copy()
    numerical_gradient(sum_of_squares, x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
@pytest.mark.parametrize("failing_call", [5, 6], ids=["at x + h", "at x - h"])
def test_numerical_gradient_restores_its_input_when_f_raises(shape, failing_call):
    # Calls 5 and 6 evaluate f at the third element + h and - h: it is perturbed either way.
    x = np.random.default_rng(2).standard_normal(shape)
    before = x.copy()
    calls = 0

    def explodes(v):
        nonlocal calls
        calls += 1
        if calls == failing_call:
            raise RuntimeError("boom")
        return np.sum(v)

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(explodes, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_sees_the_perturbation_through_a_reference():
    # The book's pattern: f ignores its argument and reads the array through the network.
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    grad = numerical_gradient(lambda _: np.sum(W**2), W)
    np.testing.assert_allclose(grad, 2 * W, rtol=1e-9)


@pytest.mark.parametrize("x", [np.array([1, 2]), np.array([1.0, 2.0], dtype=np.float32), 3.0])
def test_numerical_gradient_refuses_arrays_that_cannot_hold_x_plus_h(x):
    with pytest.raises(TypeError, match="needs a float64 array"):
        numerical_gradient(sum_of_squares, x)


def test_gradient_descent_converges_on_sum_of_squares():
    x, history = gradient_descent(sum_of_squares, np.array([-3.0, 4.0]), lr=0.1, step_num=100,
                                  return_history=True)
    np.testing.assert_allclose(x, [0.0, 0.0], atol=1e-8)
    assert history.shape == (101, 2)
    np.testing.assert_array_equal(history[0], [-3.0, 4.0])
    np.testing.assert_array_equal(history[-1], x)


def test_gradient_descent_returns_the_point_as_the_book_does():
    # Section 4.4.1: gradient_descent(function_2, init_x=init_x, lr=0.1, step_num=100)
    x = gradient_descent(sum_of_squares, init_x=np.array([-3.0, 4.0]), lr=0.1, step_num=100)
    assert isinstance(x, np.ndarray) and x.shape == (2,)
    np.testing.assert_allclose(x, [0.0, 0.0], atol=1e-8)


def test_gradient_descent_of_no_steps_returns_the_start():
    x, history = gradient_descent(sum_of_squares, [-3.0, 4.0], step_num=0, return_history=True)
    np.testing.assert_array_equal(x, [-3.0, 4.0])
    np.testing.assert_array_equal(history, [[-3.0, 4.0]])


def test_gradient_descent_leaves_init_x_alone():
    init_x = np.array([-3.0, 4.0])
    gradient_descent(sum_of_squares, init_x, lr=0.1, step_num=3)
    np.testing.assert_array_equal(init_x, [-3.0, 4.0])


@pytest.mark.parametrize("f, message", [
    (lambda x: np.sum(x**2, axis=1), r"one real number \(the loss\), got ndarray of shape \(2,\)"),
    (lambda x: None, "got None"),
    (lambda x: "2.3", "got str"),
    (lambda x: 1j, "got complex"),
])
def test_numerical_gradient_says_when_f_does_not_return_one_number(f, message):
    # The book's function_2 sums over axis 1; its numerical_gradient loops over rows, ours doesn't.
    with pytest.raises(TypeError, match=message):
        numerical_gradient(f, np.ones((2, 2)))


@pytest.mark.parametrize("x, fix", [
    (np.float32(5.0), r"float\(x\)"),
    (np.float16(5.0), r"float\(x\)"),
    (np.complex64(5.0), r"float\(x\)"),
    (np.full(3, 5.0, dtype=np.float32), r"x\.astype\(np\.float64\)"),
])
def test_numerical_diff_refuses_an_x_too_coarse_for_x_plus_h(x, fix):
    # In float32 the slope of 0.01x² + 0.1x at 5 came out as 0.2003, in float16 as 0.
    message = (f"needs x in float64 precision, got {x.dtype} .+; convert it first, e\\.g\\. "
               f"{fix}$")
    with pytest.raises(TypeError, match=message):
        numerical_diff(lambda v: 0.01 * v**2 + 0.1 * v, x)


@pytest.mark.parametrize("x, h", [
    (5, 1e-4), (5.0, 1e-4), (np.float64(5.0), 1e-4), (np.int32(5), 1e-4),
    (5.0, np.float32(1e-4)),  # taken as a float64 step: x + h stays float64
    (5.0, np.int8(100)),  # 2h is not computed in int8, where it would wrap around
])
def test_numerical_diff_takes_integers_and_float64_and_any_type_of_step(x, h):
    # A central difference of a quadratic is exact but for rounding.
    slope = numerical_diff(lambda v: 0.01 * v**2 + 0.1 * v, x, h=h)
    assert slope == pytest.approx(0.2, abs=1e-8)


@pytest.mark.parametrize("h", [0, -1e-4, float("nan"), float("inf"), 10**400, "1e-4", None, True,
                               np.array([1e-4, 1e-4])])
@pytest.mark.parametrize("differentiate", [
    lambda h: numerical_gradient(sum_of_squares, np.ones(2), h=h),
    lambda h: numerical_diff(lambda v: v**2, 1.0, h=h),
], ids=["numerical_gradient", "numerical_diff"])
def test_a_step_that_is_not_a_positive_number_is_refused_naming_it(differentiate, h):
    with pytest.raises(ValueError, match="h must be a small positive step, such as 0.0001, got"):
        differentiate(h)


def test_numerical_gradient_refuses_a_read_only_array_saying_what_to_do():
    x = np.broadcast_to(np.array([1.0, 2.0]), (3, 2))  # a read-only view
    with pytest.raises(ValueError, match=r"x is read-only; pass a writable copy, e.g. x = np.arr"):
        numerical_gradient(sum_of_squares, x)


def test_gradient_descent_keeps_no_history_unless_asked():
    # The book's call: only the last point is wanted, so memory must not grow with the steps.
    tracemalloc.start()
    try:
        gradient_descent(sum_of_squares, np.ones(1), lr=0.1, step_num=5000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000, f"{peak} bytes for a point of one number"


@pytest.mark.parametrize("kwargs, message", [
    ({"step_num": -1}, "step_num must be a whole number of steps, 0 or more, got -1"),
    ({"step_num": 2.5}, "got 2.5"),
    ({"lr": float("nan")}, "lr must be a finite number, such as 0.01, got nan"),
    ({"lr": "0.1"}, "got '0.1'"),
])
def test_gradient_descent_refuses_bad_steps_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gradient_descent(sum_of_squares, np.ones(2), **kwargs)
