"""The small chapter-4 scripts: gradient_1d, gradient_2d, gradient_method, gradient_simplenet.

Each script's numbers are checked against the exact derivatives, and each main() is run
headless the way a user runs it, writing its PNG into a temporary folder.
"""

import re

import matplotlib
import numpy as np
import pytest

from ch04 import gradient_1d, gradient_2d, gradient_method, gradient_simplenet
from common.functions import softmax

matplotlib.use("Agg")  # no display in CI; the scripts import pyplot only when they draw

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCRIPTS_WITH_FIGURE = [gradient_1d, gradient_2d, gradient_method]


@pytest.mark.parametrize("script", SCRIPTS_WITH_FIGURE, ids=lambda s: s.__name__)
def test_main_writes_a_png_headless(script, tmp_path, capsys):
    path = tmp_path / "x.png"
    assert script.main(["--plot", str(path), "--no-show"]) == 0
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), data[:8]
    assert f"plot saved to {path.resolve()}" in capsys.readouterr().out


@pytest.mark.parametrize("script", SCRIPTS_WITH_FIGURE, ids=lambda s: s.__name__)
def test_plot_into_missing_folder_exits_with_status_2(script, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        script.main(["--plot", str(tmp_path / "missing" / "x.png"), "--no-show"])
    assert exc.value.code == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("script", SCRIPTS_WITH_FIGURE, ids=lambda s: s.__name__)
def test_plot_into_a_named_pipe_needs_no_png_name(script, named_pipe, capsys):
    # As --plot /dev/null would: something to write into, whose name can't end in .png.
    fifo, finish = named_pipe
    assert script.main(["--plot", str(fifo), "--no-show"]) == 0
    assert finish().startswith(PNG_SIGNATURE)


def test_a_png_name_may_start_with_a_dot(tmp_path, capsys):
    assert gradient_1d.main(["--plot", str(tmp_path / ".png"), "--no-show"]) == 0
    assert (tmp_path / ".png").read_bytes().startswith(PNG_SIGNATURE)


# gradient_1d


def test_gradient_1d_prints_slopes_near_the_exact_derivative(tmp_path, capsys):
    gradient_1d.main(["--plot", str(tmp_path / "x.png"), "--no-show"])
    out = capsys.readouterr().out
    found = re.findall(r"x = (\S+): numerical slope (\S+), analytic (\S+)\n", out)
    slopes = {x: (float(numerical), float(analytic)) for x, numerical, analytic in found}
    assert slopes.keys() == {"5", "10"}, out
    # Central differences of a quadratic are exact but for rounding: about 1e-12 here.
    assert slopes["5"] == (pytest.approx(0.2, abs=1e-9), 0.2)  # f'(x) = 0.02x + 0.1
    assert slopes["10"] == (pytest.approx(0.3, abs=1e-9), 0.3)


@pytest.mark.parametrize("x0", [0.0, 5.0, 10.0, 20.0])
def test_tangent_line_is_the_books_function_touching_f_with_the_exact_slope(x0):
    tangent = gradient_1d.tangent_line(gradient_1d.function_1, x0)  # as the book: tf(x)
    assert tangent(x0) == pytest.approx(gradient_1d.function_1(x0), abs=1e-12)
    assert tangent(x0 + 1) - tangent(x0) == pytest.approx(
        gradient_1d.function_1_derivative(x0), abs=1e-9)
    np.testing.assert_allclose(tangent(np.array([x0, x0 + 2])), [tangent(x0), tangent(x0 + 2)])


def test_gradient_1d_prints_each_slope_in_full(tmp_path, capsys):
    # In full, as the docstring says, so that the rounding error shows (0.1999999999990898):
    # a rounded format such as :.6f would print 0.200000 and hide it.
    gradient_1d.main(["--plot", str(tmp_path / "x.png"), "--no-show"])
    out = capsys.readouterr().out
    for x0 in gradient_1d.TANGENT_POINTS:
        slope = gradient_1d.numerical_diff(gradient_1d.function_1, x0)
        assert slope != gradient_1d.function_1_derivative(x0)  # else there is nothing to show
        assert f"x = {x0:g}: numerical slope {slope!r}, analytic " in out, out


def test_plot_tangents_draws_f_and_its_tangent_at_each_point():
    fig = gradient_1d.plot_tangents(gradient_1d.function_1)
    ax = fig.axes[0]
    curve, *rest = ax.get_lines()
    x = np.linspace(*gradient_1d.X_RANGE, 201)
    np.testing.assert_array_equal(curve.get_xdata(), x)
    np.testing.assert_allclose(curve.get_ydata(), gradient_1d.function_1(x), rtol=1e-15, atol=0)
    # After f: for each point its tangent, then the point itself.
    assert len(rest) == 2 * len(gradient_1d.TANGENT_POINTS)
    for (tangent, point), x0 in zip(zip(rest[::2], rest[1::2], strict=True),
                                    gradient_1d.TANGENT_POINTS, strict=True):
        exact = gradient_1d.function_1(x0) + gradient_1d.function_1_derivative(x0) * (x - x0)
        # The numerical slope is exact but for rounding (~1e-12): 1e-9 is far below any error.
        np.testing.assert_allclose(tangent.get_ydata(), exact, rtol=0, atol=1e-9)
        np.testing.assert_allclose(point.get_xydata(), [[x0, gradient_1d.function_1(x0)]],
                                   rtol=1e-15, atol=0)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["f(x) = 0.01x² + 0.1x", "tangent at x = 5 (slope 0.2000)",
                      "tangent at x = 10 (slope 0.3000)"]


# gradient_2d


def test_gradient_field_equals_the_analytic_gradient_on_the_grid():
    points = gradient_2d.grid_points()
    assert points.shape == (18 * 18, 2)
    # Central differences are exact for a quadratic up to rounding (~1e-11 here); 1e-6 is
    # far below any real error, such as a gradient taken at the wrong point.
    np.testing.assert_allclose(gradient_2d.gradient_field(points), 2 * points, rtol=0, atol=1e-6)


def test_gradient_field_at_the_books_points():
    grad = gradient_2d.gradient_field([[3, 4], [0, 2], [3, 0]])  # integers are converted
    np.testing.assert_allclose(grad, [[6, 8], [0, 4], [6, 0]], rtol=0, atol=1e-6)


def test_gradient_field_rejects_points_as_columns():
    # The book's script passed the grid as a (2, N) array; here that is an error, not a guess.
    with pytest.raises(ValueError, match=r"shape \(N, 2\).*\(2, 5\)"):
        gradient_2d.gradient_field(np.zeros((2, 5)))


def test_gradient_2d_prints_the_books_gradients_beside_the_analytic_ones(tmp_path, capsys):
    assert gradient_2d.main(["--plot", str(tmp_path / "x.png"), "--no-show"]) == 0
    out = capsys.readouterr().out
    found = re.findall(r"gradient at \((\S+), (\S+)\): \[(.+)\]   "
                       r"\(analytic \(2x0, 2x1\) = \[(.+)\]\)\n", out)
    # The book's three points and its printed gradients: [6. 8.], [0. 4.], [6. 0.].
    assert [(float(a), float(b)) for a, b, _, _ in found] == [(3, 4), (0, 2), (3, 0)], out
    for a, b, numerical, analytic in found:
        exact = [2 * float(a), 2 * float(b)]
        np.testing.assert_allclose(np.array(numerical.split(), float), exact, atol=1e-6)
        assert np.array(analytic.split(), float).tolist() == exact
    points = gradient_2d.grid_points()
    error = np.max(np.abs(gradient_2d.gradient_field(points) - 2 * points))
    assert 0 < error < 1e-6
    assert (f"{len(points)} grid points; largest difference from the analytic gradient "
            f"{error:.1e}\n") in out


def test_function_2_is_the_sum_of_squares():
    # Its value, not only its gradient: the book's f(x0, x1) = x0² + x1².
    assert gradient_2d.function_2(np.array([3.0, 4.0])) == 25.0
    assert gradient_2d.function_2(np.array([0.0, 0.0])) == 0.0
    assert gradient_2d.function_2(np.array([-1.5, 2.0])) == pytest.approx(6.25, rel=1e-15)


def test_plot_gradient_field_draws_the_negative_gradient_at_each_point():
    points = gradient_2d.grid_points()
    grad = gradient_2d.gradient_field(points)
    fig = gradient_2d.plot_gradient_field(points, grad)
    (quiver,) = fig.axes[0].collections
    np.testing.assert_array_equal(quiver.get_offsets(), points)
    # -grad: the arrows point downhill, towards the minimum, as in figure 4-9.
    np.testing.assert_array_equal(quiver.U, -grad[:, 0])
    np.testing.assert_array_equal(quiver.V, -grad[:, 1])


def test_gradient_field_takes_a_read_only_array():
    # It works on a copy of its own: the caller's points need not be writable.
    points = gradient_2d.grid_points()
    points.flags.writeable = False
    np.testing.assert_allclose(gradient_2d.gradient_field(points), 2 * points, rtol=0, atol=1e-6)


def test_gradient_field_does_not_modify_its_input():
    points = gradient_2d.grid_points()
    before = points.copy()
    gradient_2d.gradient_field(points)
    np.testing.assert_array_equal(points, before)


# gradient_method


def test_too_large_learning_rate_blows_up_then_freezes():
    _, history = gradient_method.descend(gradient_method.TOO_LARGE_LR, gradient_method.STEPS)
    assert np.max(np.abs(history[-1])) > 1e12
    # Once x ± h rounds to x in float64, the numerical gradient is 0 and x stops moving.
    assert gradient_method.last_move(history) < gradient_method.STEPS


def test_too_small_learning_rate_barely_moves():
    x, history = gradient_method.descend(gradient_method.TOO_SMALL_LR, gradient_method.STEPS)
    # Exact steps would give (1 - 2e-10)**100 * (-3, 4), a move of 1e-7 in all.
    np.testing.assert_allclose(x, (1 - 2e-10) ** 100 * np.array([-3.0, 4.0]), rtol=1e-12)
    assert gradient_method.last_move(history) == gradient_method.STEPS


def test_distance_to_minimum_of_the_start_is_5():
    _, history = gradient_method.descend(0.1, 3)
    np.testing.assert_allclose(gradient_method.distance_to_minimum(history), [5, 4, 3.2, 2.56])


def numbers_after(label, out):
    """The array printed after `label` on a line of out, such as 'x = [-0.03  0.04]'."""
    match = re.search(re.escape(label) + r"\[(.+)\]\n", out)
    assert match, (label, out)
    return np.array(match.group(1).split(), float)


def test_gradient_method_main_prints_where_each_learning_rate_ends(tmp_path, capsys):
    assert gradient_method.main(["--plot", str(tmp_path / "x.png"), "--no-show"]) == 0
    out = capsys.readouterr().out
    # The book's figure: 20 steps at lr = 0.1, each multiplying x by 0.8 (exactly, but for
    # rounding: central differences of a quadratic). numpy prints 8 digits: hence rtol 1e-6.
    np.testing.assert_allclose(numbers_after("lr = 0.1, 20 steps (the figure): x = ", out),
                               0.8**20 * np.array([-3.0, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(numbers_after("lr = 0.1, 100 steps: x = ", out),
                               0.8**100 * np.array([-3.0, 4.0]), rtol=1e-6)
    large, history = gradient_method.descend(gradient_method.TOO_LARGE_LR, gradient_method.STEPS)
    np.testing.assert_allclose(numbers_after("lr = 10, 100 steps: x = ", out), large, rtol=1e-7)
    assert f"after step {gradient_method.last_move(history)} it stops moving" in out
    small, _ = gradient_method.descend(gradient_method.TOO_SMALL_LR, gradient_method.STEPS)
    np.testing.assert_allclose(numbers_after("lr = 1e-10, 100 steps: x = ", out), small,
                               rtol=1e-7)
    moved = np.linalg.norm(small - gradient_method.INIT_X)
    assert moved == pytest.approx(1e-7, rel=1e-3)  # 5 · (1 - (1 - 2e-10)**100) ≈ 1e-7
    assert f"in 100 steps x moved only {moved:.1e} from the start\n" in out


def test_plot_descent_draws_the_path_and_marks_only_the_run_that_froze():
    _, path = gradient_method.descend(gradient_method.LEARNING_RATE, gradient_method.PATH_STEPS)
    rates = (gradient_method.LEARNING_RATE, gradient_method.TOO_LARGE_LR,
             gradient_method.TOO_SMALL_LR)
    histories = {lr: gradient_method.descend(lr, gradient_method.STEPS)[1] for lr in rates}
    fig = gradient_method.plot_descent(path, histories)
    ax_path, ax_dist = fig.axes
    (line,) = [line for line in ax_path.get_lines() if line.get_label() == "20 steps, lr = 0.1"]
    np.testing.assert_array_equal(line.get_xydata(), path)  # x0 across, x1 up
    for line, lr in zip(ax_dist.get_lines(), rates, strict=True):
        assert line.get_label() == f"lr = {lr:g}"
        np.testing.assert_array_equal(line.get_ydata(),
                                      gradient_method.distance_to_minimum(histories[lr]))
    # lr = 10 freezes at step 10 and gets a note; lr = 0.1 and lr = 1e-10 still move at their
    # last step, so they get none.
    frozen = gradient_method.last_move(histories[gradient_method.TOO_LARGE_LR])
    assert [text.get_text() for text in ax_dist.texts] == [
        f"no move after step {frozen}:\nx + h rounds to x"]


# gradient_simplenet


NETS = {"seed 0": {"rng": 0}, "seed 1": {"rng": 1}, "seed 2": {"rng": 2},
        "book W": {"W": gradient_simplenet.BOOK_W}}


@pytest.mark.parametrize("kwargs", NETS.values(), ids=list(NETS))
def test_simplenet_numerical_gradient_equals_the_softmax_cross_entropy_gradient(kwargs):
    net = gradient_simplenet.SimpleNet(**kwargs)
    x, t = np.array([0.6, 0.9]), np.array([0.0, 0.0, 1.0])
    y = softmax(net.predict(x))
    expected = np.outer(x, y - t)
    # cross_entropy_error takes -log(y[2] + 1e-7), whose exact gradient is the one above times
    # y[2] / (y[2] + 1e-7): a relative error of 1e-7 / y[2], the same for every entry, below
    # 1e-6 here (y[2] > 0.1). Central differences add about 1e-8 more. So rtol = 1e-5; the
    # tiny atol only guards entries near zero.
    assert y[2] > 0.1
    np.testing.assert_allclose(net.numerical_gradient(x, t), expected, rtol=1e-5, atol=1e-9)


def test_simplenet_numerical_gradient_leaves_W_unchanged():
    net = gradient_simplenet.SimpleNet(rng=0)
    before = net.W.copy()
    net.numerical_gradient(np.array([0.6, 0.9]), 2)  # integer label
    np.testing.assert_array_equal(net.W, before)


def test_simplenet_accepts_integer_and_one_hot_labels_alike():
    net = gradient_simplenet.SimpleNet(rng=0)
    x = np.array([0.6, 0.9])
    assert net.loss(x, 2) == net.loss(x, np.array([0, 0, 1]))


@pytest.mark.parametrize("W", [[[1, 2, 3], [4, 5, 6]], np.ones((2, 3))], ids=["list", "array"])
def test_simplenet_copies_W_as_float64(W):
    net = gradient_simplenet.SimpleNet(W)
    assert net.W.dtype == np.float64
    net.W[0, 0] = 10
    assert W[0][0] == 1  # the caller's W, list or float64 array, is not the network's


def test_simplenet_same_seed_same_weights():
    a, b = gradient_simplenet.SimpleNet(rng=7), gradient_simplenet.SimpleNet(rng=7)
    np.testing.assert_array_equal(a.W, b.W)
    assert a.W.shape == (2, 3)


def test_the_books_simplenet_draws_from_numpys_global_state():
    # Section 4.4.2 types: net = simpleNet(), after np.random.seed(...) if it is to repeat.
    np.random.seed(3)
    a = gradient_simplenet.simpleNet()
    np.random.seed(3)
    np.testing.assert_array_equal(gradient_simplenet.simpleNet().W, a.W)
    np.random.seed(3)
    np.testing.assert_array_equal(a.W, np.random.randn(2, 3))


def test_gradient_simplenet_main_prints_the_books_scores(capsys):
    assert gradient_simplenet.main(["--book-weights"]) == 0
    out = capsys.readouterr().out
    assert "[1.05414809 0.63071653 1.1328074 ]" in out  # the book's printed prediction
    assert "predicted class: 2" in out
    loss = float(re.search(r"loss: (\S+)", out).group(1))
    # The book prints 0.92806853663411326; ours is 2.5e-7 lower because of the 1e-7 in the log.
    assert loss == pytest.approx(0.92806853663411326, abs=1e-6)
    rows = re.search(r"dW =\n\[\[(.+)\]\n \[(.+)\]\]\n", out).groups()
    dW = np.array([row.split() for row in rows], float)
    # The book's printed dW; ours differs by about 1e-7, for the same reason.
    np.testing.assert_allclose(dW, [[0.21924763, 0.14356247, -0.36281009],
                                    [0.32887144, 0.2153437, -0.54421514]], rtol=0, atol=3e-7)


def test_gradient_simplenet_main_draws_W_with_the_seed_it_names(capsys):
    assert gradient_simplenet.main(["--seed", "3"]) == 0
    out = capsys.readouterr().out
    net = gradient_simplenet.SimpleNet(rng=3)
    rows = re.search(r"W = random, seed 3\n\[\[(.+)\]\n \[(.+)\]\]\n", out).groups()
    printed = np.array([row.split() for row in rows], float)
    np.testing.assert_allclose(printed, net.W, rtol=0, atol=1e-8)  # printed to 8 decimals
    x = np.array(gradient_simplenet.X)
    assert f"predicted class: {np.argmax(net.predict(x))} (true class: 2)\n" in out


def test_gradient_simplenet_main_is_reproducible(capsys):
    assert gradient_simplenet.main(["--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert gradient_simplenet.main(["--seed", "3"]) == 0
    assert capsys.readouterr().out == first
    assert "dW =" in first


@pytest.mark.parametrize("x", [np.array([0.6, 0.9, 1.0]), np.ones((2, 2, 2))])
def test_simplenet_names_an_input_of_the_wrong_shape(x):
    message = re.escape(f"x has shape {x.shape}, but this network takes 2")
    with pytest.raises(ValueError, match=message):
        gradient_simplenet.SimpleNet(rng=0).predict(x)


@pytest.mark.parametrize("W", [np.zeros((2, 0)), np.zeros((0, 3)), np.ones(3)],
                         ids=["no-classes", "no-inputs", "1-d"])
def test_simplenet_refuses_a_W_that_is_not_a_nonempty_matrix(W):
    message = re.escape(f"W must be a 2-D (inputs, classes) matrix, got shape {W.shape}")
    with pytest.raises(ValueError, match=message):
        gradient_simplenet.SimpleNet(W)


def test_gradient_simplenet_takes_a_seed_or_the_books_weights_not_both(capsys):
    with pytest.raises(SystemExit) as exc:
        gradient_simplenet.main(["--book-weights", "--seed", "5"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_png_name_is_accepted_in_capitals(tmp_path, capsys):
    assert gradient_1d.main(["--plot", str(tmp_path / "FIG.PNG"), "--no-show"]) == 0
    assert (tmp_path / "FIG.PNG").read_bytes().startswith(PNG_SIGNATURE)


def test_show_figure_opens_no_window_with_no_show_and_closes_the_figure(monkeypatch):
    # When pyplot is loaded anyway (a notebook, or a script run in-process), --no-show still
    # means no window, and the figure is not kept open by pyplot.
    import matplotlib.pyplot as plt

    from ch04._figures import show_figure

    fig = plt.figure()
    monkeypatch.setattr(type(fig.canvas), "required_interactive_framework", "qt")  # a GUI
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: pytest.fail("opened a window"))
    assert plt.fignum_exists(fig.number)
    show_figure(fig, no_show=True)
    assert not plt.fignum_exists(fig.number)


@pytest.mark.parametrize("framework, shown", [(None, False), ("qt", True)])
def test_show_figure_calls_show_only_for_a_canvas_that_can_open_a_window(monkeypatch, framework,
                                                                           shown):
    # Agg has no window to open; plt.show() would act on every open figure, not only this one.
    import matplotlib.pyplot as plt

    from ch04._figures import show_figure

    fig, calls = plt.figure(), []
    monkeypatch.setattr(type(fig.canvas), "required_interactive_framework", framework)
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: calls.append(args))
    show_figure(fig)
    assert (calls == [()]) == shown
    assert not plt.fignum_exists(fig.number)


def test_new_figure_comes_from_pyplot_once_pyplot_is_imported():
    # So that show_figure can show it: a plain Figure has no window.
    import matplotlib.pyplot as plt

    from ch04._figures import new_figure, want_windows

    want_windows(no_show=False)
    fig = new_figure(figsize=(2, 2))
    assert fig.canvas.manager is not None and plt.fignum_exists(fig.canvas.manager.num)
    plt.close(fig)


def test_save_figure_writes_png_whatever_savefig_format_is_set(tmp_path):
    from matplotlib.figure import Figure

    from ch04._figures import save_figure

    with matplotlib.rc_context({"savefig.format": "svg"}):  # as a user's matplotlibrc may say
        save_figure(Figure(), tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes().startswith(PNG_SIGNATURE)


def test_gradient_simplenet_rejects_a_negative_seed(capsys):
    with pytest.raises(SystemExit) as exc:
        gradient_simplenet.main(["--seed", "-1"])
    assert exc.value.code == 2
    assert "argument --seed: must be 0 or more, got -1" in capsys.readouterr().err
