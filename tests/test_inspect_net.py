"""inspect_net: the confusion matrix and its summaries by hand, and the script run headless on
synthetic data, on real MNIST after a short training run, and on bad parameter files."""

import io
import os
import re
import sys

import matplotlib
import numpy as np
import pytest
from matplotlib.text import Text

import dataset
from ch04 import inspect_net
from ch04.inspect_net import (
    MAX_TITLE_CHARS,
    MAX_UNITS,
    _mistake_title,
    _tile_axes,
    confusion_matrix,
    draw_confusion,
    draw_mistakes,
    draw_weights,
    grid_shape,
    main,
    misclassified,
    most_confused,
    per_class_accuracy,
    plot_inspection,
)
from ch04.train_neuralnet import train
from ch04.two_layer_net import TwoLayerNet
from common.functions import one_hot
from dataset import DatasetUnavailableError
from dataset.fashion_mnist import FASHION_MNIST
from dataset.mnist import MNIST

matplotlib.use("Agg")  # no display in CI; the script imports pyplot only when it draws

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def texts(fig):
    """Every piece of text in fig, titles of its subfigures included."""
    return [artist.get_text() for artist in fig.findobj(Text)]

# Six examples of three classes: class 0 twice (one right), class 1 once (right), class 2 three
# times (two right, one taken for a 0).
T = np.array([0, 0, 1, 2, 2, 2])
Y = np.array([0, 1, 1, 2, 0, 2])
EXPECTED = np.array([[1, 1, 0],
                     [0, 1, 0],
                     [1, 0, 2]])


def test_confusion_matrix_counts_each_true_and_predicted_pair():
    confusion = confusion_matrix(T, Y, 3)
    np.testing.assert_array_equal(confusion, EXPECTED)
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(T, minlength=3))


def test_confusion_matrix_of_one_hot_labels_equals_that_of_integer_labels():
    np.testing.assert_array_equal(confusion_matrix(one_hot(T, 3), one_hot(Y, 3), 3), EXPECTED)


def test_confusion_matrix_of_uint8_labels_does_not_overflow():
    t = np.array([19, 19, 3], dtype=np.uint8)  # 19 * 20 + 19 = 399 does not fit in a uint8
    confusion = confusion_matrix(t, t, 20)
    assert confusion[19, 19] == 2 and confusion[3, 3] == 1 and confusion.sum() == 3


def test_confusion_matrix_takes_num_classes_of_the_labels_own_type():
    t, y = np.array([14, 0], dtype=np.uint8), np.array([15, 0], dtype=np.uint8)
    confusion = confusion_matrix(t, y, y.max() + 1)  # np.uint8(16): 16 ** 2 wraps in uint8
    assert confusion.shape == (16, 16)
    assert confusion[14, 15] == confusion[0, 0] == confusion.sum() - 1 == 1


def test_confusion_matrix_rejects_a_class_beyond_num_classes():
    # Unchecked, t * 3 + 3 would be counted silently as the next row's class 0.
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\] for 3 classes, got 3"):
        confusion_matrix(T, [0, 1, 1, 2, 3, 2], 3)


@pytest.mark.parametrize("t, y, num_classes, message", [
    (T, Y[:-1], 3, "6 true labels but 5 predicted ones: give one of each per example"),
    (T, Y, 0, "num_classes must be a positive integer, got 0"),
    (T, Y, True, "num_classes must be a positive integer, got True"),
])
def test_confusion_matrix_names_what_does_not_fit(t, y, num_classes, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        confusion_matrix(t, y, num_classes)


@pytest.mark.parametrize("count", [-1, 2.5])
@pytest.mark.parametrize("pick", [
    lambda count: most_confused(EXPECTED, count),
    lambda count: misclassified(T, np.eye(3)[Y], count),
], ids=["most_confused", "misclassified"])
def test_a_count_that_is_not_a_whole_number_is_refused(pick, count):
    # -1 would be taken as a slice: all but the last.
    with pytest.raises(ValueError, match=f"^count must be a whole number, 0 or more, or None for "
                                         f"all, got {count}$"):
        pick(count)


def test_a_count_of_none_means_all():
    assert most_confused(EXPECTED, None) == [(0, 1, 1), (2, 0, 1)]
    np.testing.assert_array_equal(misclassified(T, np.eye(3)[Y], None), [1, 4])


def test_confusion_matrix_trace_over_total_is_the_networks_accuracy():
    rng = np.random.default_rng(0)
    x, t = rng.random((300, 20)), rng.integers(4, size=300)
    net = TwoLayerNet(20, 6, 4, weight_init_std=1.0, rng=1)
    confusion = confusion_matrix(t, net.predict(x).argmax(axis=1), 4)
    assert confusion.sum() == 300
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(t, minlength=4))
    accuracy = net.accuracy(x, t)
    assert 0.1 < accuracy < 0.9  # some right and some wrong, or the check would be trivial
    assert np.trace(confusion) / confusion.sum() == accuracy


def test_per_class_accuracy_is_the_diagonal_over_the_row_sums():
    np.testing.assert_array_equal(per_class_accuracy(EXPECTED), [0.5, 1.0, 2 / 3])


def test_per_class_accuracy_of_a_class_without_examples_is_nan():
    confusion = np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    np.testing.assert_array_equal(per_class_accuracy(confusion), [0.75, 1.0, np.nan])


def test_misclassified_lists_the_surest_mistakes_first():
    t = np.array([0, 1, 2, 0, 1])
    y = np.array([[0.8, 0.1, 0.1],   # right
                  [0.6, 0.3, 0.1],   # wrong, 0.6 for class 0
                  [0.0, 0.9, 0.1],   # wrong, 0.9 for class 1
                  [0.2, 0.2, 0.6],   # wrong, 0.6 for class 2: after example 1, as in the data
                  [0.1, 0.7, 0.2]])  # right
    np.testing.assert_array_equal(misclassified(t, y), [2, 1, 3])
    np.testing.assert_array_equal(misclassified(t, y, count=2), [2, 1])
    np.testing.assert_array_equal(misclassified(one_hot(t, 3), y), [2, 1, 3])


def test_most_confused_lists_the_largest_off_diagonal_counts():
    confusion = np.array([[50, 2, 7],
                          [0, 40, 0],
                          [7, 1, 30]])
    assert most_confused(confusion, 3) == [(0, 2, 7), (2, 0, 7), (0, 1, 2)]
    assert most_confused(confusion, 10) == [(0, 2, 7), (2, 0, 7), (0, 1, 2), (2, 1, 1)]
    assert most_confused(np.diag([5, 5]), 3) == []


def test_ties_keep_the_datas_order_also_in_large_arrays():
    # NumPy's default sort keeps ties in order for a few elements only: these are large.
    assert most_confused(np.full((10, 10), 3), 5) == [(0, j, 3) for j in range(1, 6)]
    t = np.zeros(300, dtype=int)
    sure = np.random.default_rng(0).choice([0.6, 0.7, 0.8], 300)  # all wrong, in three ties
    y = np.stack([1 - sure, sure], axis=1)
    expected = np.concatenate([np.flatnonzero(sure == p) for p in (0.8, 0.7, 0.6)])
    np.testing.assert_array_equal(misclassified(t, y), expected)


def test_mistake_titles_round_down_and_split_long_names():
    assert _mistake_title("4", "9", 0.9997) == "true 4 → pred 9\n(99.9%)"  # not a sure 100%
    assert _mistake_title("T-shirt/top", "Ankle boot", 0.5) == (
        "true T-shirt/top\n→ pred Ankle boot\n(50.0%)")


def test_a_mistake_title_of_exactly_max_title_chars_stays_on_one_line():
    # Only a longer one is split: "true 10 → pred 9" has 16 characters, one more has 17.
    assert len("true 10 → pred 9") == MAX_TITLE_CHARS
    assert _mistake_title("10", "9", 0.5) == "true 10 → pred 9\n(50.0%)"
    assert _mistake_title("10", "11", 0.5) == "true 10\n→ pred 11\n(50.0%)"


def test_each_mistake_is_titled_with_its_true_and_predicted_class():
    from matplotlib.figure import Figure

    fig = Figure()
    y = np.array([[0.1, 0.7, 0.2], [0.05, 0.15, 0.8]])  # taken for a 1, then for a 2
    draw_mistakes(fig, np.zeros((2, 28, 28)), np.array([2, 0]), y, ("a", "b", "c"), total=2)
    assert [ax.get_title() for ax in fig.axes] == ["true c → pred b\n(70.0%)",
                                                   "true a → pred c\n(80.0%)"]


def test_the_confusion_figure_has_true_classes_in_rows_and_predictions_in_columns():
    from matplotlib.figure import Figure

    confusion = np.array([[5, 1, 0],
                          [0, 3, 0],
                          [2, 0, 4]])  # not symmetric, so that a transposed drawing shows
    fig = Figure()
    draw_confusion(fig, confusion, ("a", "b", "c"))
    ax = fig.axes[0]
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("true class", "predicted class")
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a", "b", "c"]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["a", "b", "c"]
    (image,) = ax.images
    np.testing.assert_array_equal(image.get_array().filled(0), confusion)  # row i: true class i
    assert np.ma.getmaskarray(image.get_array()).tolist() == (confusion == 0).tolist()
    # Each count is written in its cell: at x = column j (predicted), y = row i (true).
    written = {tuple(map(int, text.get_position())): text.get_text() for text in ax.texts}
    assert written == {(j, i): str(n) for (i, j), n in np.ndenumerate(confusion)}
    # Accuracy: the diagonal's 12 of all 15 examples.
    assert "Confusion matrix: test accuracy 0.8000" in texts(fig)


def test_tiles_beyond_the_count_are_hidden():
    from matplotlib.figure import Figure

    fig = Figure()
    tiles = _tile_axes(fig, 7, aspect=2.0)  # a grid of 2 × 4
    assert len(tiles) == 7
    assert [ax.axison for ax in fig.axes] == [True] * 7 + [False]


def test_the_mistakes_title_counts_all_of_them_not_only_those_drawn():
    import matplotlib.pyplot as plt

    t = np.zeros(30, dtype=int)
    y = one_hot(np.ones(30, dtype=int), 10)  # 30 mistakes, of which 20 are drawn
    fig = plot_inspection(np.zeros((784, 3)), np.zeros((30, 28, 28)), t, y,
                          confusion_matrix(t, y, 10), MNIST.class_names)
    try:
        assert any(text.startswith("The 20 mistakes the network was surest of, of 30:")
                   for text in texts(fig))
    finally:
        plt.close(fig)


@pytest.mark.parametrize("count, aspect, shape", [
    (50, 2.0, (5, 10)), (7, 2.0, (2, 4)), (1, 2.0, (1, 1)), (20, 1.25, (4, 5)), (3, 1.25, (2, 2)),
])
def test_grid_shape_for_the_usual_counts(count, aspect, shape):
    assert grid_shape(count, aspect) == shape


def test_grid_shape_holds_every_tile_without_an_empty_row():
    for count in range(1, 201):
        rows, cols = grid_shape(count, 2.0)
        assert (rows - 1) * cols < count <= rows * cols, (count, rows, cols)


@pytest.mark.parametrize("hidden_size", [1, 7, 50, MAX_UNITS + 20])
def test_weights_of_any_hidden_size_are_drawn(hidden_size):
    import matplotlib.pyplot as plt

    W1 = np.random.default_rng(0).standard_normal((784, hidden_size))
    fig = plt.figure()
    try:
        draw_weights(fig, W1, (28, 28))
        tiles = [ax for ax in fig.axes if ax.images]
        assert len(tiles) == min(hidden_size, MAX_UNITS)
        assert [ax.get_title() for ax in tiles[:2]] == ["unit 0", "unit 1"][:len(tiles)]
        shown = "" if hidden_size <= MAX_UNITS else f"the first {MAX_UNITS} of "
        assert any(f"of {shown}the {hidden_size} hidden units" in text for text in texts(fig))
    finally:
        plt.close(fig)


def test_plot_inspection_draws_the_surest_mistakes_with_their_own_images():
    import matplotlib.pyplot as plt

    n = 30  # all wrong, each given a different probability; 20 of them are drawn
    t = np.zeros(n, dtype=int)
    sure = np.random.default_rng(0).permutation(np.linspace(0.5, 0.79, n))
    y = np.zeros((n, 10))
    y[:, 0], y[:, 1] = 1 - sure, sure  # taken for a 1 with probability `sure`
    images = np.broadcast_to(np.arange(n, dtype=float)[:, None, None], (n, 28, 28))
    fig = plot_inspection(np.zeros((784, 3)), images, t, y, confusion_matrix(t, y, 10),
                          MNIST.class_names)
    try:
        tiles = [ax for ax in fig.axes if ax.get_title().startswith("true ")]
        surest = np.argsort(-sure, kind="stable")[:20]
        assert [ax.get_title() for ax in tiles] == [_mistake_title("0", "1", sure[i])
                                                    for i in surest]
        for ax, i in zip(tiles, surest, strict=True):
            np.testing.assert_array_equal(ax.images[0].get_array(), images[i])
    finally:
        plt.close(fig)


def test_each_weight_tile_is_scaled_symmetrically_about_zero():
    import matplotlib.pyplot as plt

    W1 = np.random.default_rng(0).standard_normal((784, 4))
    W1[:, 0] -= 3  # mostly negative: its largest |w| is a negative weight
    W1[:, 1] += 3  # mostly positive
    W1[:, 3] = 0  # all zero: a scale of ±1, not vmin = vmax
    fig = plt.figure()
    try:
        draw_weights(fig, W1, (28, 28))
        tiles = [ax for ax in fig.axes if ax.images]
        for j, ax in enumerate(tiles):
            limit = np.abs(W1[:, j]).max() or 1.0
            assert ax.images[0].get_clim() == (-limit, limit), j
            np.testing.assert_array_equal(ax.images[0].get_array(), W1[:, j].reshape(28, 28))
    finally:
        plt.close(fig)


def test_a_network_without_mistakes_is_drawn():
    import matplotlib.pyplot as plt

    t = np.arange(10)
    y = one_hot(t, 10)
    fig = plot_inspection(np.zeros((784, 3)), np.zeros((10, 28, 28)), t, y,
                          confusion_matrix(t, t, 10), MNIST.class_names)
    try:
        assert "No misclassified test images" in texts(fig)
        assert "Confusion matrix: test accuracy 1.0000" in texts(fig)
    finally:
        plt.close(fig)


# The command line, first on synthetic 28 × 28 "images" of 10 classes.


def blobs(n, seed):
    """n points around 10 fixed centres in [0, 1]^784 → (x float32 (n, 784), t int (n,))."""
    centres = np.random.default_rng(1000).random((10, 784))
    rng = np.random.default_rng(seed)
    t = rng.integers(10, size=n)
    return (centres[t] + 0.5 * rng.standard_normal((n, 784))).astype(np.float32), t


@pytest.fixture
def fake_data(monkeypatch):
    """Make the script load 300 + 200 synthetic images instead of MNIST or Fashion-MNIST."""
    data = (blobs(300, seed=1), blobs(200, seed=2))

    def load(normalize=True, flatten=True, one_hot_label=False):
        return data

    datasets = {"mnist": (load, MNIST), "fashion-mnist": (load, FASHION_MNIST)}
    monkeypatch.setattr(dataset, "datasets", lambda: datasets)
    return data


def save_trained(path, data, hidden_size=10, iters=100):
    (x_train, t_train), (x_test, t_test) = data
    net = TwoLayerNet(784, hidden_size, 10, rng=0, dtype=np.float32)
    train(net, x_train, t_train, x_test, t_test, iters=iters, batch_size=20, lr=0.5, rng=1)
    net.save(path)
    return net


def run_main(tmp_path, params, *args):
    return main([str(params), "--plot", str(tmp_path / "x.png"), "--no-show", *args])


def test_main_prints_each_class_and_the_accuracy_and_writes_the_png(fake_data, tmp_path,
                                                                    capsys):
    net = save_trained(tmp_path / "p.npz", fake_data)
    assert run_main(tmp_path, tmp_path / "p.npz") == 0
    out = capsys.readouterr().out
    x_test, t_test = fake_data[1]
    rows = re.findall(r"^(\d) +(\d+)/(\d+) +(0\.\d{4}|1\.0000)$", out, flags=re.MULTILINE)
    assert [row[0] for row in rows] == list("0123456789"), out
    assert [int(row[2]) for row in rows] == np.bincount(t_test, minlength=10).tolist()
    accuracy = net.accuracy(x_test, t_test)
    assert 0.3 < accuracy < 1  # some mistakes to draw
    assert f"test accuracy {accuracy:.4f} ({round(accuracy * 200)}/200 correct)" in out
    assert sum(int(row[1]) for row in rows) == round(accuracy * 200)
    for _, right, total, acc in rows:
        assert float(acc) == pytest.approx(int(right) / int(total), abs=5e-5)
    counts = np.zeros((10, 10), int)  # counted here, not with the module's confusion_matrix
    np.add.at(counts, (t_test, net.predict(x_test).argmax(axis=1)), 1)
    assert "most frequent mistakes, true -> predicted:" in out
    mistakes = re.findall(r"^  (\d) -> (\d): (\d+)$", out, flags=re.MULTILINE)
    off_diagonal = counts[~np.eye(10, dtype=bool)]
    assert [int(n) for *_, n in mistakes] == sorted(off_diagonal[off_diagonal > 0])[::-1][:5]
    for true, predicted, n in mistakes:
        assert true != predicted and counts[int(true), int(predicted)] == int(n)
    assert (tmp_path / "x.png").read_bytes().startswith(PNG_SIGNATURE)
    assert f"plot saved to {(tmp_path / 'x.png').resolve()}" in out


def test_main_prints_only_ascii_which_any_terminal_can_show(fake_data, tmp_path, monkeypatch):
    # On Windows, output sent to a file is encoded as cp1252, which has no →.
    save_trained(tmp_path / "p.npz", fake_data)
    # Escaped where ASCII can't show a character, as run_main sets it up: then only the paths
    # (in a TMPDIR of café, say) may hold escapes.
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="backslashreplace")
    monkeypatch.setattr(sys, "stdout", stdout)
    assert run_main(tmp_path, tmp_path / "p.npz") == 0
    stdout.flush()
    out = stdout.buffer.getvalue().replace(str(tmp_path).encode("ascii", "backslashreplace"), b"")
    assert b"most frequent mistakes, true -> predicted:" in out
    assert b"\\" not in out  # no escapes: nothing of the script's own was outside ASCII


def test_main_names_the_classes_of_fashion_mnist(fake_data, tmp_path, capsys):
    save_trained(tmp_path / "p.npz", fake_data)
    assert run_main(tmp_path, tmp_path / "p.npz", "--dataset", "fashion-mnist") == 0
    out = capsys.readouterr().out
    assert re.search(r"^T-shirt/top +\d+/\d+ +[01]\.\d{4}$", out, flags=re.MULTILINE), out
    assert re.search(r"^Ankle boot +\d+/\d+ +[01]\.\d{4}$", out, flags=re.MULTILINE), out


def test_main_draws_a_hidden_layer_of_7_units(fake_data, tmp_path):
    save_trained(tmp_path / "p.npz", fake_data, hidden_size=7)
    assert run_main(tmp_path, tmp_path / "p.npz") == 0
    assert (tmp_path / "x.png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.skipif(sys.platform != "linux", reason="Linux takes any bytes as a file name")
@pytest.mark.parametrize("name, drawn", [
    (b"run_$1_$2.npz", "run_$1_$2.npz"),  # not mathematics: matplotlib raised a ParseException
    (b"\xff.npz", "\ufffd.npz"),  # not UTF-8: matplotlib refused the surrogate with TypeError
    ("モデル.npz".encode(), "モデル.npz"),  # not in the font: boxes, without the warning
], ids=["dollars", "not-utf-8", "japanese"])
def test_main_draws_any_file_name_in_its_title(fake_data, tmp_path, monkeypatch, name, drawn):
    params = tmp_path / os.fsdecode(name)
    save_trained(params, fake_data)
    titles = []
    real = inspect_net.plot_inspection
    monkeypatch.setattr(inspect_net, "plot_inspection",
                        lambda *args, title: titles.append(title) or real(*args, title=title))
    assert run_main(tmp_path, params) == 0  # warnings are errors here
    assert titles[0].startswith(f"{drawn}: a 784 → 10 → 10 network")
    assert (tmp_path / "x.png").read_bytes().startswith(PNG_SIGNATURE)


def test_plot_over_the_parameters_file_exits_2(fake_data, tmp_path, capsys):
    save_trained(tmp_path / "model.png", fake_data)
    (tmp_path / "link.png").symlink_to("model.png")  # the same file by another name
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "model.png"), "--plot", str(tmp_path / "link.png"), "--no-show"])
    assert exc.value.code == 2
    assert "is the parameters file; give the figure another name" in capsys.readouterr().err
    assert TwoLayerNet.load(tmp_path / "model.png")  # still the parameters


def test_main_scores_the_test_images_1000_at_a_time(fake_data, tmp_path, monkeypatch, capsys):
    (x_train, t_train), _ = fake_data
    x_test, t_test = blobs(2100, seed=3)
    net = save_trained(tmp_path / "p.npz", fake_data)
    datasets = {"mnist": (lambda normalize: ((x_train, t_train), (x_test, t_test)), MNIST)}
    monkeypatch.setattr(dataset, "datasets", lambda: datasets)
    rows = []
    real = TwoLayerNet.predict
    monkeypatch.setattr(TwoLayerNet, "predict",
                        lambda self, x: rows.append(len(x)) or real(self, x))
    assert run_main(tmp_path, tmp_path / "p.npz") == 0
    assert rows == [1000, 1000, 100]
    accuracy = net.accuracy(x_test, t_test)
    assert f"test accuracy {accuracy:.4f} ({round(accuracy * 2100)}/2100 correct)" in (
        capsys.readouterr().out)


def test_main_suggests_the_other_dataset_when_accuracy_is_near_guessing(fake_data, tmp_path,
                                                                         capsys):
    TwoLayerNet(784, 5, 10, rng=0).save(tmp_path / "untrained.npz")
    assert run_main(tmp_path, tmp_path / "untrained.npz") == 0
    out = capsys.readouterr().out
    assert "that is close to the 0.10 of guessing: were these parameters trained with" in out
    assert "were these parameters trained with --dataset fashion-mnist?" in out


def test_main_suggests_the_other_dataset_below_twice_the_accuracy_of_guessing(
        fake_data, tmp_path, capsys, monkeypatch):
    (_, t_test) = fake_data[1]
    right = np.arange(len(t_test)) < 0.15 * len(t_test)  # 15%: below 2 / 10, above 1 / 10
    predicted = np.where(right, t_test, (t_test + 1) % 10)
    monkeypatch.setattr(TwoLayerNet, "predict", lambda self, x: one_hot(predicted, 10))
    TwoLayerNet(784, 5, 10, rng=0).save(tmp_path / "p.npz")
    assert run_main(tmp_path, tmp_path / "p.npz") == 0
    out = capsys.readouterr().out
    assert "test accuracy 0.1500" in out
    assert "were these parameters trained with --dataset fashion-mnist?" in out


def test_main_refuses_parameters_too_large_to_compute_with(fake_data, tmp_path, capsys):
    # Finite, but the scores overflow float32: a hand-made file (a diverged run saves none).
    params = TwoLayerNet(784, 5, 10, rng=0, dtype=np.float32).params
    params["W1"] = np.full_like(params["W1"], 3e38)
    np.savez(tmp_path / "huge.npz", **params)
    with pytest.raises(SystemExit) as exc:
        run_main(tmp_path, tmp_path / "huge.npz")
    assert exc.value.code == 2
    assert "huge.npz holds parameters too large to compute with" in capsys.readouterr().err


def test_main_returns_1_when_the_dataset_cannot_be_loaded(tmp_path, capsys, monkeypatch):
    def unavailable(normalize=True, flatten=True, one_hot_label=False):
        raise DatasetUnavailableError("no MNIST here: put the files in the cache")

    monkeypatch.setattr(dataset, "datasets", lambda: {"mnist": (unavailable, MNIST)})
    TwoLayerNet(784, 5, 10, rng=0).save(tmp_path / "p.npz")
    assert run_main(tmp_path, tmp_path / "p.npz") == 1
    assert "no MNIST here: put the files in the cache" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def write_text(path):
    path.write_text("W1 = [[0.1, 0.2]]\n")


def write_npy(path):
    with open(path, "wb") as f:  # np.save(path) would add .npy to the name
        np.save(f, np.zeros((784, 50)))


def write_other_arrays(path):
    np.savez(path, weights=np.zeros((784, 50)))


def write_inconsistent_shapes(path):
    np.savez(path, W1=np.zeros((784, 5)), b1=np.zeros(4), W2=np.zeros((5, 10)), b2=np.zeros(10))


def write_nan_params(path):
    W1 = np.full((784, 5), np.nan)  # as a run that diverged could leave them
    np.savez(path, W1=W1, b1=np.zeros(5), W2=np.zeros((5, 10)), b2=np.zeros(10))


def write_net(input_size, output_size):
    return lambda path: TwoLayerNet(input_size, 5, output_size, rng=0).save(path)


@pytest.mark.parametrize("write, message", [
    (None, "cannot read {path}: No such file or directory"),
    (lambda path: path.mkdir(), "cannot read {path}: Is a directory"),
    (write_text, "{path} is not an .npz file of saved parameters"),
    (write_npy, "{path} is not an .npz file of saved parameters"),
    (write_other_arrays, "{path} is not a saved TwoLayerNet: it lacks W1, b1, W2, b2"),
    (write_inconsistent_shapes, "{path} holds parameters of inconsistent shapes"),
    (write_net(100, 10), "{path}: the network takes 100 inputs, but mnist images have 784 pixels"),
    (write_net(784, 3), "{path}: the network has 3 outputs, but mnist has 10 classes"),
    (write_nan_params, "{path} holds NaN or infinite parameters (from a run that diverged?)"),
], ids=["missing", "folder", "text", "npy", "other-arrays", "inconsistent", "inputs", "outputs",
        "nan"])
def test_bad_params_file_exits_2_naming_the_file(tmp_path, capsys, monkeypatch, write, message):
    def never(**kwargs):
        pytest.fail("loaded the data set for a bad parameters file")

    monkeypatch.setattr(dataset, "datasets", lambda: {"mnist": (never, MNIST)})
    path = tmp_path / "params.npz"
    if write is not None:
        write(path)
    with pytest.raises(SystemExit) as exc:
        run_main(tmp_path, path)
    assert exc.value.code == 2
    last_line = capsys.readouterr().err.splitlines()[-1]  # argparse prints the usage first
    assert last_line.startswith("python -m ch04.inspect_net: error: ")
    assert message.format(path=path) in last_line


def test_plot_that_is_not_a_png_exits_2(tmp_path, capsys):
    TwoLayerNet(784, 5, 10, rng=0).save(tmp_path / "p.npz")
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "p.npz"), "--plot", str(tmp_path / "x.pdf"), "--no-show"])
    assert exc.value.code == 2
    assert "must end in .png" in capsys.readouterr().err


# Then on real MNIST, after a short training run.


def test_main_after_a_short_training_run_on_mnist(mnist_home, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DLFS_DATA_HOME", str(mnist_home))
    from dataset import load_mnist

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
    net = TwoLayerNet(784, 50, 10, rng=0, dtype=np.float32)
    # lr 0.5 rather than the book's 0.1, which needs more than these 200 steps to get going.
    train(net, x_train, t_train, x_test, t_test, iters=200, lr=0.5, rng=1)
    net.save(tmp_path / "p.npz")

    assert run_main(tmp_path, tmp_path / "p.npz") == 0
    out = capsys.readouterr().out
    accuracy = net.accuracy(x_test, t_test)
    assert accuracy > 0.7, out  # a third of an epoch, but far above the 0.1 of guessing
    assert f"test accuracy {accuracy:.4f} ({round(accuracy * 10_000)}/10000 correct)" in out
    assert re.search(r"^1 +\d+/1135 +0\.\d{4}$", out, flags=re.MULTILINE), out
    png = (tmp_path / "x.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 50_000  # 50 weight tiles, 20 digits and a matrix of numbers
