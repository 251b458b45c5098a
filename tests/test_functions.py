"""common.functions: the formulas' properties, their gradients, and their errors on bad labels."""

import numpy as np
import pytest

from common.functions import (
    class_indices,
    cross_entropy_error,
    identity_function,
    one_hot,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_loss,
    step_function,
    sum_squared_error,
)
from common.gradient import numerical_gradient


@pytest.fixture
def rng():
    return np.random.default_rng(20261127)


def elementwise_numerical_derivative(f, x):
    """d f(x_i) / d x_i for an element-wise f, by numerical_gradient of sum(f(x))."""
    return numerical_gradient(lambda v: np.sum(f(v)), x.copy())


# Gradient checks: analytic against numerical, float64. Central differences with h = 1e-4 are
# accurate to about h² · f''' ≈ 1e-9 here, so 1e-7 leaves room and still catches a wrong formula.


def test_sigmoid_grad_matches_numerical_derivative(rng):
    x = rng.uniform(-6, 6, size=(4, 5))
    np.testing.assert_allclose(sigmoid_grad(x), elementwise_numerical_derivative(sigmoid, x),
                               rtol=1e-7, atol=1e-10)


def test_relu_grad_matches_numerical_derivative_away_from_zero(rng):
    x = rng.uniform(-3, 3, size=(4, 5))
    x[np.abs(x) < 0.01] = 0.5  # the kink at 0 is where the central difference is meaningless
    np.testing.assert_allclose(relu_grad(x), elementwise_numerical_derivative(relu, x),
                               rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("labels", ["integer", "one-hot"])
def test_softmax_cross_entropy_gradient_is_softmax_minus_one_hot_over_n(rng, labels):
    x = rng.standard_normal((4, 3)) * 3
    t = rng.integers(3, size=4)
    t = one_hot(t, 3, dtype=np.float64) if labels == "one-hot" else t
    analytic = (softmax(x) - one_hot(class_indices(t, x.shape), 3)) / len(x)
    numerical = numerical_gradient(lambda _: softmax_loss(x, t), x)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-10)


# softmax


def test_softmax_rows_sum_to_one(rng):
    y = softmax(rng.standard_normal((6, 10)) * 10)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(y >= 0)


def test_softmax_is_stable_for_large_inputs():
    np.testing.assert_allclose(softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])
    np.testing.assert_allclose(softmax(np.array([[1010.0, 1000.0, 990.0]])),
                               softmax(np.array([[20.0, 10.0, 0.0]])), rtol=1e-12)
    # Each row is shifted by its own maximum: one shift for the batch would leave the second
    # row as exp(-1000), exp(-1001), which are both 0.
    np.testing.assert_allclose(softmax(np.array([[1000.0, 999.0], [0.0, -1.0]])),
                               [softmax(np.array([1.0, 0.0]))] * 2, rtol=1e-12)


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e308), (np.float32, 3e38)])
def test_softmax_of_finite_scores_far_apart_gives_no_overflow_warning(dtype, big):
    # x - max(x) rounds to -inf here, whose exp is the right 0. Warnings are errors in this suite.
    x = np.array([big, -big], dtype=dtype)
    np.testing.assert_array_equal(softmax(x), [1.0, 0.0])
    assert softmax_loss(x, 0) == 0.0
    assert softmax_loss(x, 1) == np.inf  # the true loss, 2 * big, is beyond the dtype's range


@pytest.mark.parametrize("x, expected", [
    (np.array([1, 2, 3], np.uint8), softmax(np.array([1.0, 2.0, 3.0]))),  # not 1 - 3 = 254
    (np.array([-128, 127], np.int8), softmax(np.array([-128.0, 127.0]))),  # not 127 + 128 = -1
    (np.array([True, False]), softmax(np.array([1.0, 0.0]))),
])
def test_softmax_of_integers_is_computed_in_floats(x, expected):
    np.testing.assert_allclose(softmax(x), expected, rtol=1e-12)


def test_sum_squared_error_of_integer_predictions_is_computed_in_floats():
    assert sum_squared_error(np.array([0, 0, 20, 0], np.uint8), 1) == 0.5 * (1 + 400)


def test_softmax_works_row_wise_on_a_batch_and_on_one_example(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(softmax(x)[1], softmax(x[1]), rtol=1e-15)


# sigmoid, step, relu, identity


def test_sigmoid_gives_no_overflow_warning_at_extremes():
    # Warnings are errors in this test suite, so an overflow in np.exp would fail here.
    y = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(y, [0.0, 0.5, 1.0])
    assert sigmoid(np.float32(-1000)) == 0.0


def test_sigmoid_equals_one_over_one_plus_exp(rng):
    x = rng.uniform(-30, 30, size=100)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12, atol=1e-16)


def test_sigmoid_keeps_float32():
    assert sigmoid(np.ones(3, dtype=np.float32)).dtype == np.float32


def test_step_relu_and_identity_values():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(step_function(x), [0, 0, 1])
    np.testing.assert_array_equal(relu(x), [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(relu_grad(x), [0.0, 0.0, 1.0])
    assert identity_function(x) is x


# losses and labels


def test_cross_entropy_is_the_same_for_one_hot_and_integer_labels(rng):
    y = softmax(rng.standard_normal((5, 10)))
    t = rng.integers(10, size=5)
    assert cross_entropy_error(y, one_hot(t, 10)) == pytest.approx(cross_entropy_error(y, t),
                                                                   rel=1e-15)


def test_cross_entropy_of_perfect_prediction_is_just_below_zero():
    # -log(1 + 1e-7) ≈ -1e-7: the book's 1e-7 pulls a perfect prediction below 0, not above.
    assert cross_entropy_error(np.array([0.0, 1.0]), 1) == pytest.approx(-1e-7, rel=1e-6)


def test_cross_entropy_of_a_single_example_with_a_scalar_label():
    y = np.array([0.1, 0.7, 0.2])
    assert cross_entropy_error(y, 1) == pytest.approx(-np.log(0.7 + 1e-7), rel=1e-15)
    assert cross_entropy_error(y, np.array([0, 1, 0])) == cross_entropy_error(y, 1)


def test_cross_entropy_is_the_batch_mean():
    y = np.array([[0.5, 0.5], [0.9, 0.1]])
    t = np.array([0, 0])
    assert cross_entropy_error(y, t) == pytest.approx(
        -(np.log(0.5 + 1e-7) + np.log(0.9 + 1e-7)) / 2, rel=1e-15)


def test_softmax_loss_equals_cross_entropy_of_softmax_but_for_the_1e7(rng):
    x = rng.standard_normal((5, 4))
    t = rng.integers(4, size=5)
    assert softmax_loss(x, t) == pytest.approx(cross_entropy_error(softmax(x), t), abs=1e-6)


def test_softmax_loss_stays_finite_for_hopeless_predictions():
    x = np.array([[1000.0, -1000.0]])
    assert softmax_loss(x, np.array([1])) == pytest.approx(2000.0)


def test_sum_squared_error_accepts_both_label_forms():
    y = np.array([[0.1, 0.6, 0.3], [0.8, 0.1, 0.1]])
    t = np.array([1, 0])
    expected = 0.5 * (0.1**2 + 0.4**2 + 0.3**2 + 0.2**2 + 0.1**2 + 0.1**2)
    assert sum_squared_error(y, t) == pytest.approx(expected, rel=1e-12)
    assert sum_squared_error(y, one_hot(t, 3, np.float64)) == pytest.approx(expected, rel=1e-12)


def test_class_indices_reads_one_hot_rows_and_passes_integer_labels():
    one_hot_rows = np.array([[0.1, 0.7, 0.2], [0.9, 0.05, 0.05]])  # largest entry: the class
    np.testing.assert_array_equal(class_indices(one_hot_rows, (2, 3)), [1, 0])
    np.testing.assert_array_equal(class_indices(np.array([2, 0]), [2, 3]), [2, 0])  # any sequence


@pytest.mark.parametrize("t, message", [
    (np.array([0, 3]), r"labels must lie in \[0, 2\] for 3 classes, got 3"),
    (np.array([0, -1]), r"got -1"),
    (np.array([0, 1, 2]), r"labels of shape \(3,\) don't match predictions of shape \(2, 3\)"),
    (np.zeros((2, 4)), r"labels of shape \(2, 4\)"),
    (np.array([0.0, 1.0]), r"integer labels must have an integer dtype, got float64"),
    (np.array([True, False]), r"integer labels must have an integer dtype, got bool"),
])
def test_bad_labels_raise_value_error_naming_shapes_or_values(t, message):
    y = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match=message):
        cross_entropy_error(y, t)


@pytest.mark.parametrize("loss", [cross_entropy_error, softmax_loss])
def test_a_scalar_prediction_without_a_class_axis_is_a_clear_error(loss):
    with pytest.raises(ValueError, match=r"need a class axis, shape \(C,\) or \(N, C\)"):
        loss(0.5, 0)


def test_labels_of_the_predictions_shape_name_the_class_where_they_are_largest(rng):
    # As the book's common/functions.py reads them, so that its dummy labels work (4.5.1).
    y = softmax(rng.standard_normal((4, 3)))
    t = rng.random((4, 3))  # the book's np.random.rand(100, 10), smaller
    assert cross_entropy_error(y, t) == cross_entropy_error(y, t.argmax(axis=1))
    assert softmax_loss(np.log(y), t) == softmax_loss(np.log(y), t.argmax(axis=1))


@pytest.mark.parametrize("loss", [cross_entropy_error, softmax_loss])
@pytest.mark.parametrize("t", [np.zeros(0, dtype=int), np.zeros((0, 3))],
                         ids=["integer", "one-hot"])
def test_a_loss_over_no_examples_is_a_clear_error(loss, t):
    # Not NumPy's "Mean of empty slice" warning and a NaN.
    with pytest.raises(ValueError, match=r"no examples: predictions of shape \(0, 3\)"):
        loss(np.zeros((0, 3)), t)
