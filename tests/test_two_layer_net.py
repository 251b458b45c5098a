"""TwoLayerNet: backprop against numerical gradients, both label forms, dtypes, save and load."""

import errno
import io
import os
import struct
import zipfile

import numpy as np
import pytest

from ch04.two_layer_net import PARAM_NAMES, TwoLayerNet
from common.functions import one_hot
from common.gradient import numerical_gradient


def small_problem(seed=0, sizes=(5, 4, 3), batch=3, weight_init_std=1.0):
    """A tiny float64 net and a batch for it. Weights of std 1 (not 0.01) make every gradient
    entry sizeable, so that a relative comparison means something."""
    rng = np.random.default_rng(seed)
    net = TwoLayerNet(*sizes, weight_init_std=weight_init_std, rng=rng)
    for name in ("b1", "b2"):  # nonzero biases, so that their use is tested too
        net.params[name] += rng.standard_normal(net.params[name].shape)
    x = rng.standard_normal((batch, sizes[0]))
    t = rng.integers(sizes[2], size=batch)
    return net, x, t


def labels_as(t, form, num_classes):
    return one_hot(t, num_classes, dtype=np.float64) if form == "one-hot" else t


@pytest.mark.parametrize("form", ["integer", "one-hot"])
@pytest.mark.parametrize("name", PARAM_NAMES)
def test_backprop_gradient_matches_numerical_gradient(name, form):
    net, x, t = small_problem()
    t = labels_as(t, form, 3)
    analytic = net.gradient(x, t)[name]
    numerical = net.numerical_gradient(x, t)[name]
    # Central differences are accurate to ~h² = 1e-8 relative here; a wrong backprop line
    # would be off by O(1). On failure assert_allclose prints both arrays.
    np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-9)


def test_the_benchmarks_book_style_gradient_matches_numerical_gradient_and_ours():
    # benchmarks/book_style.py has its own backprop, which the speed comparison relies on.
    from benchmarks.book_style import BookTwoLayerNet

    net, x, t = small_problem()
    book = BookTwoLayerNet(5, 4, 3)
    book.params = {name: value.copy() for name, value in net.params.items()}
    t = one_hot(t, 3, dtype=np.float64)  # the book's gradient needs one-hot labels
    analytic = book.gradient(x, t)
    for name in PARAM_NAMES:
        numerical = numerical_gradient(lambda _: book.loss(x, t), book.params[name])
        # The book's loss adds 1e-7 inside the log, so its slope differs from (y - t) / N by
        # about 1e-7 relative to the probabilities, here all larger than 1e-3.
        np.testing.assert_allclose(analytic[name], numerical, rtol=1e-4, atol=1e-8,
                                   err_msg=name)
        np.testing.assert_allclose(analytic[name], net.gradient(x, t)[name], rtol=1e-12,
                                   atol=1e-15, err_msg=name)


@pytest.mark.parametrize("seed, sizes, batch, zero_inputs", [
    (0, (5, 4, 3), 3, []), (1, (12, 7, 4), 9, [0, 5, 11]), (2, (30, 6, 10), 1, [3])])
def test_fast_numerical_gradient_equals_the_plain_loop(seed, sizes, batch, zero_inputs):
    net, x, t = small_problem(seed, sizes, batch)
    x[:, zero_inputs] = 0  # inputs that are 0 in every example, as MNIST's border pixels
    x[::2, 1] = 0  # and one that is 0 in some examples only, as most of MNIST's pixels
    fast = net.numerical_gradient(x, t)
    for name in PARAM_NAMES:
        plain = numerical_gradient(lambda _: net.loss(x, t), net.params[name])
        # The same differences of the same losses, computed in a different order. They differ
        # only by rounding, which a central difference magnifies to about eps·|loss|/2h ≈ 1e-11:
        # hence the atol, below which a 1e-6 relative comparison would test noise.
        np.testing.assert_allclose(fast[name], plain, rtol=1e-6, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("seed, sizes, batch", [(0, (5, 4, 3), 3), (2, (30, 6, 10), 1)])
def test_numerical_gradient_of_a_float32_net_is_computed_in_float64(seed, sizes, batch):
    # Forward pass and differences in float64 from the float32 values, then one rounding to
    # float32: within a float32 ulp (2**-23 relative; rounding takes at most half) of the float64
    # result, element by element. A forward pass in float32 is off by up to dozens of ulps.
    net, x, t = small_problem(seed, sizes, batch)
    net32 = TwoLayerNet.from_params({name: value.astype(np.float32)
                                     for name, value in net.params.items()})
    grads = net32.numerical_gradient(x, t)
    in_float64 = TwoLayerNet.from_params({name: value.astype(np.float64)
                                          for name, value in net32.params.items()})
    for name, value in in_float64.numerical_gradient(x, t).items():
        assert grads[name].dtype == np.float32
        np.testing.assert_allclose(grads[name], value, rtol=2.0**-23, atol=0, err_msg=name)


def test_gradients_leave_the_parameters_unchanged():
    net, x, t = small_problem()
    before = {name: value.copy() for name, value in net.params.items()}
    net.gradient(x, t)
    net.numerical_gradient(x, t)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(net.params[name], before[name])


def test_the_loss_of_loss_and_gradient_is_that_of_loss():
    # Its gradient is gradient()'s by definition, checked against numerical_gradient above.
    net, x, t = small_problem()
    loss, _ = net.loss_and_gradient(x, t)
    assert loss == pytest.approx(net.loss(x, t), rel=1e-15)


def test_predict_gives_probabilities_for_a_batch_and_for_one_example():
    net = TwoLayerNet(784, 50, 10, rng=0)
    x = np.random.default_rng(1).random((4, 784))
    y = net.predict(x)
    assert y.shape == (4, 10)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-12)
    assert net.predict(x[0]).shape == (10,)
    np.testing.assert_allclose(net.predict(x[0]), y[0], rtol=1e-12)


def test_predict_is_the_books_formula():
    net = TwoLayerNet(784, 50, 10, rng=0, weight_init_std=0.1)
    x = np.random.default_rng(1).random((4, 784))
    W1, b1, W2, b2 = (net.params[name] for name in PARAM_NAMES)
    z1 = 1 / (1 + np.exp(-(x @ W1 + b1)))  # written out here, as the book does
    e = np.exp(z1 @ W2 + b2)
    np.testing.assert_allclose(net.predict(x), e / e.sum(axis=1, keepdims=True), rtol=1e-12)


def test_a_single_example_works_with_a_scalar_label():
    net, x, t = small_problem()
    assert net.loss(x[0], t[0]) == pytest.approx(net.loss(x[:1], t[:1]), rel=1e-15)
    for label in range(3):  # right for the predicted class only
        assert net.accuracy(x[0], label) == float(net.predict(x[0]).argmax() == label)
    for name, grad in net.gradient(x[0], t[0]).items():
        np.testing.assert_array_equal(grad, net.gradient(x[:1], t[:1])[name])


@pytest.mark.parametrize("dtype", [int, float])
def test_a_single_example_works_with_a_one_hot_label(dtype):
    net, x, t = small_problem()
    label = one_hot(t, 3, dtype=dtype)
    assert net.loss(x[0], label[0]) == pytest.approx(net.loss(x[:1], t[:1]), rel=1e-15)
    assert net.accuracy(x[0], label[0]) == net.accuracy(x[:1], t[:1])
    for name, grad in net.gradient(x[0], label[0]).items():
        np.testing.assert_array_equal(grad, net.gradient(x[:1], t[:1])[name])


def test_accuracy_is_the_same_for_one_hot_and_integer_labels():
    net, x, t = small_problem(batch=50)
    t_one_hot = one_hot(t, 3)
    expected = np.mean(net.predict(x).argmax(axis=1) == t)
    assert net.accuracy(x, t) == expected
    assert net.accuracy(x, t_one_hot) == expected
    for batch_size in (1, 2, 7, 49):  # slices, of any size, give the same count
        assert net.accuracy(x, t, batch_size=batch_size) == expected


def test_float32_net_computes_in_float32():
    net = TwoLayerNet(6, 5, 3, dtype=np.float32, rng=0)
    x = np.ones((2, 6))  # float64 input is converted to the net's dtype
    assert net.predict(x).dtype == np.float32
    loss, grads = net.loss_and_gradient(x, np.array([0, 2]))
    assert all(g.dtype == np.float32 for g in grads.values())


def test_global_random_state_reproduces_the_weights_like_the_book():
    np.random.seed(42)
    a = TwoLayerNet(5, 4, 3)
    np.random.seed(42)
    b = TwoLayerNet(5, 4, 3)
    np.random.seed(42)
    W1 = 0.01 * np.random.randn(5, 4)  # the book's first draw
    W2 = 0.01 * np.random.randn(4, 3)  # and its second
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    np.testing.assert_array_equal(a.params["W1"], W1)
    np.testing.assert_array_equal(a.params["W2"], W2)
    np.testing.assert_array_equal(a.params["b1"], np.zeros(4))
    np.testing.assert_array_equal(a.params["b2"], np.zeros(3))


def test_rng_argument_takes_a_seed_or_a_generator():
    a = TwoLayerNet(5, 4, 3, rng=7)
    b = TwoLayerNet(5, 4, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.params["W2"], b.params["W2"])


def test_save_then_load_predicts_identically(tmp_path):
    net = TwoLayerNet(784, 50, 10, rng=3, dtype=np.float32)
    path = tmp_path / "params.npz"
    net.save(path)
    loaded = TwoLayerNet.load(path)
    assert loaded.dtype == np.float32
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(loaded.params[name], net.params[name])
    x = np.random.default_rng(0).random((5, 784))
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    assert [p.name for p in tmp_path.iterdir()] == ["params.npz"]  # no temporary file left


def test_save_writes_plain_arrays_without_pickle(tmp_path):
    path = tmp_path / "params.npz"
    TwoLayerNet(5, 4, 3, rng=0).save(path)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(PARAM_NAMES)


def test_save_writes_an_uncompressed_file(tmp_path):  # as its docstring says: it loads faster
    path = tmp_path / "params.npz"
    TwoLayerNet(5, 4, 3, rng=0).save(path)
    with zipfile.ZipFile(path) as z:
        assert {member.compress_type for member in z.infolist()} == {zipfile.ZIP_STORED}


def test_a_save_that_fails_leaves_the_earlier_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "params.npz"
    TwoLayerNet(5, 4, 3, rng=0).save(path)
    before = path.read_bytes()

    def savez_on_a_full_disk(file, **arrays):
        file.write(b"PK half an archive")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_on_a_full_disk)
    with pytest.raises(OSError, match="No space left"):
        TwoLayerNet(5, 4, 3, rng=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["params.npz"]


class RunsOnUnpickling:
    """Pickled, it is a call to os.mkdir: what a crafted file could make np.load do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_load_never_unpickles(tmp_path):
    path, marker = tmp_path / "crafted.npz", tmp_path / "it-ran"
    W1 = np.empty(1, dtype=object)
    W1[0] = RunsOnUnpickling(str(marker))
    np.savez(path, W1=W1, b1=np.zeros(4), W2=np.zeros((4, 3)), b2=np.zeros(3))
    try:
        with pytest.raises(ValueError, match="is damaged"):
            TwoLayerNet.load(path)
    finally:  # whatever came of it
        assert not marker.exists(), "loading ran code from the file"


def test_load_rejects_a_file_without_the_parameters(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, W1=np.zeros((5, 4)))
    with pytest.raises(ValueError, match="lacks b1, W2, b2"):
        TwoLayerNet.load(path)


def test_input_of_the_wrong_width_is_a_clear_error():
    net = TwoLayerNet(784, 50, 10, rng=0)
    with pytest.raises(ValueError, match=r"x has shape \(2, 783\), but this network takes 784"):
        net.predict(np.zeros((2, 783)))


@pytest.mark.parametrize("std", [float("nan"), float("inf"), "a"])
def test_weight_init_std_must_be_a_finite_number(std):
    with pytest.raises(ValueError, match="weight_init_std must be a finite number"):
        TwoLayerNet(4, 3, 2, weight_init_std=std)


@pytest.mark.parametrize("sizes", [(0, 4, 3), (5, -1, 3), (5, 4, 2.5), (True, 3, 2)])
def test_sizes_must_be_positive_integers(sizes):
    with pytest.raises(ValueError, match="must be a positive integer"):
        TwoLayerNet(*sizes)


def write_garbage_members(path):
    """A zip with the right member names, but no .npy data in them."""
    with zipfile.ZipFile(path, "w") as z:
        for name in PARAM_NAMES:
            z.writestr(name + ".npy", b"garbage")


def write_damaged_compressed(path):
    """np.savez_compressed's archive with one byte of W1's deflated data changed: zlib's error."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **TwoLayerNet(50, 20, 10, rng=0).params)
    data = bytearray(buffer.getvalue())
    member = zipfile.ZipFile(buffer).getinfo("W1.npy")
    name_length, extra_length = struct.unpack_from("<HH", data, member.header_offset + 26)
    start = member.header_offset + 30 + name_length + extra_length  # of the deflated bytes
    data[start] ^= 0x55  # the first block's header: zlib can't decode what follows
    path.with_suffix(".npz").write_bytes(data)


def write_with_first_entry_changed(offset, change):
    """A saved network whose first central-directory entry has one byte changed: at offset 8
    (flags) the 'encrypted' bit, at offset 10 (method) an unknown compression method."""
    def write(path):
        buffer = io.BytesIO()
        np.savez(buffer, **TwoLayerNet(5, 4, 3, rng=0).params)
        data = bytearray(buffer.getvalue())
        at = data.find(b"PK\x01\x02") + offset
        data[at] = change(data[at])
        path.with_suffix(".npz").write_bytes(data)

    return write


@pytest.mark.parametrize("write, message", [
    (lambda p: np.save(p, np.zeros(3)), "is not an .npz file"),
    (write_garbage_members, "is damaged"),
    (write_damaged_compressed, "is damaged: Error -3 while decompressing"),
    (write_with_first_entry_changed(8, lambda flags: flags | 1), "is damaged: .*encrypted"),
    (write_with_first_entry_changed(10, lambda method: 99), "is damaged: .*compression method"),
    (lambda p: p.write_text("W1, b1"), "is not an .npz file"),
    (lambda p: p.write_bytes(b""), "is not an .npz file"),
    (lambda p: np.savez(p, W1=np.zeros(5), b1=np.zeros(4), W2=np.zeros((4, 3)),
                        b2=np.zeros(3)), "inconsistent shapes"),
    (lambda p: np.savez(p, W1=np.zeros((5, 4)), b1=np.zeros(4), W2=np.zeros((4, 3)),
                        b2=np.zeros(4)), "inconsistent shapes"),
    (lambda p: np.savez(p, W1=np.zeros((5, 4), int), b1=np.zeros(4, int),
                        W2=np.zeros((4, 3), int), b2=np.zeros(3, int)), "not floating-point"),
    (lambda p: np.savez(p, W1=np.zeros((5, 4)), b1=np.zeros(4), W2=np.zeros((4, 3)),
                        b2=np.zeros(3, int)), "not floating-point"),
    (lambda p: np.savez(p, W1=np.zeros((5, 0)), b1=np.zeros(0), W2=np.zeros((0, 3)),
                        b2=np.zeros(3)), r"an empty network: W1 \(5, 0\), W2 \(0, 3\)"),
])
def test_load_names_the_file_when_it_holds_no_network(tmp_path, write, message):
    path = tmp_path / "params"
    write(path)
    path = next(tmp_path.iterdir())  # np.save and np.savez add their suffix
    with pytest.raises(ValueError, match=message) as exc:
        TwoLayerNet.load(path)
    assert str(path) in str(exc.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_load_refuses_what_is_not_a_file_at_once(tmp_path, call_in_a_thread):
    # /dev/zero (python -m ch04.inspect_net /dev/zero) was read by zipfile until memory ran
    # out, and a named pipe that no program writes to was waited on forever. A pipe stands in
    # for both; the load runs in a thread, so that a wait fails the test instead of hanging it.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    loader, errors = call_in_a_thread(lambda: TwoLayerNet.load(fifo), catch=ValueError)
    if loader.is_alive():  # waiting for a writer: be one, for a moment, and fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        loader.join(timeout=60)
        pytest.fail("TwoLayerNet.load waited for a program to write into a named pipe")
    assert errors and "pipe is not a file of saved parameters" in str(errors[0])


def test_load_reads_the_file_it_checked_even_if_the_path_changes_meanwhile(tmp_path,
                                                                         monkeypatch):
    # Another program puts something else at the path just after it is opened: what is loaded
    # is still the file that was opened and checked (a swap to /dev/zero was read forever).
    from ch04 import two_layer_net

    net = TwoLayerNet(5, 4, 3, rng=0)
    net.save(tmp_path / "p.npz")
    TwoLayerNet(5, 4, 3, rng=1).save(tmp_path / "other.npz")
    open_it = two_layer_net.open_without_waiting

    def open_then_swap(path, flags):
        fd = open_it(path, flags)
        os.replace(tmp_path / "other.npz", path)
        return fd

    monkeypatch.setattr(two_layer_net, "open_without_waiting", open_then_swap)
    loaded = TwoLayerNet.load(tmp_path / "p.npz")
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(loaded.params[name], net.params[name])


def test_the_books_example_with_dummy_data_runs():
    # Section 4.5.1: random inputs and random "labels" (read as their largest entry), to see
    # the shapes of the gradients.
    rng = np.random.default_rng(0)
    net = TwoLayerNet(input_size=784, hidden_size=100, output_size=10, rng=rng)
    x, t = rng.random((100, 784)), rng.random((100, 10))
    grads = net.numerical_gradient(x, t)
    assert {name: grad.shape for name, grad in grads.items()} == {
        "W1": (784, 100), "b1": (100,), "W2": (100, 10), "b2": (10,)}
    for name, value in net.gradient(x, t).items():
        np.testing.assert_allclose(grads[name], value, rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("dtype", [np.int64, bool, np.complex128])
def test_dtype_must_be_floating_point(dtype):
    # An integer dtype would round weights of std 0.01 to all zeros.
    with pytest.raises(ValueError, match=rf"dtype must be floating-point, got {np.dtype(dtype)}"
                                         ": use np.float32 or np.float64"):
        TwoLayerNet(5, 4, 3, dtype=dtype)


@pytest.mark.parametrize("method", ["loss", "gradient", "loss_and_gradient",
                                    "numerical_gradient", "accuracy"])
@pytest.mark.parametrize("t", [np.zeros(0, dtype=int), np.zeros((0, 3))],
                         ids=["integer", "one-hot"])
def test_a_batch_of_no_examples_is_a_clear_error(method, t):
    # Not NumPy's "Mean of empty slice" warning, nor a ZeroDivisionError from accuracy.
    net = TwoLayerNet(5, 4, 3, rng=0)
    with pytest.raises(ValueError, match=r"no examples: x has shape \(0, 5\)"):
        getattr(net, method)(np.zeros((0, 5)), t)


def test_predict_of_no_examples_is_empty():
    assert TwoLayerNet(5, 4, 3, rng=0).predict(np.zeros((0, 5))).shape == (0, 3)


@pytest.mark.parametrize("method", ["predict", "loss", "accuracy", "gradient",
                                    "numerical_gradient"])
def test_x_must_be_a_batch_or_one_example(method):
    net = TwoLayerNet(4, 3, 2, rng=0)
    x = np.zeros((2, 5, 4))  # e.g. images not flattened
    args = (x,) if method == "predict" else (x, np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match=r"x has shape \(2, 5, 4\), but this network takes 4 "
                                         r"inputs per example, as \(N, 4\) or \(4,\): "
                                         r"flatten images with x\.reshape\(len\(x\), -1\)"):
        getattr(net, method)(*args)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_accuracy_batch_size_must_be_a_positive_integer(batch_size):
    net, x, t = small_problem()
    message = f"batch_size must be a positive integer, got {batch_size}"
    with pytest.raises(ValueError, match=message):
        net.accuracy(x, t, batch_size=batch_size)


@pytest.mark.parametrize("t", [1, np.zeros(2, dtype=int), np.zeros((3, 4))],
                         ids=["scalar", "too-few", "one-hot-too-wide"])
def test_accuracy_of_labels_of_the_wrong_shape_is_the_same_error_as_loss(t):
    net, x, _ = small_problem()
    message = r"labels of shape .* don't match predictions of shape \(3, 3\)"
    with pytest.raises(ValueError, match=message):
        net.loss(x, t)
    with pytest.raises(ValueError, match=message):
        net.accuracy(x, t, batch_size=2)


def test_load_of_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        TwoLayerNet.load(tmp_path / "missing.npz")
