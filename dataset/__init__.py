"""The data sets of chapter 4 as NumPy arrays: MNIST, and Fashion-MNIST as a drop-in second one.

    from dataset import load_mnist
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

Files are fetched once, checked against their SHA-256 on every load, and cached as .npy files
in data_home() (set DLFS_DATA_HOME to choose the folder), never in the source tree.
Left out on purpose: batching and shuffling (the training loop does that), data augmentation,
other data sets, and any framework-style Dataset class.
"""

from dataset._store import DatasetUnavailableError, data_home, scale_pixels

__all__ = ["DatasetUnavailableError", "data_home", "datasets", "load_fashion_mnist",
           "load_mnist", "scale_pixels"]


def datasets():
    """The data sets the commands offer, by their --dataset name → (loader, DatasetSpec)."""
    from dataset.fashion_mnist import FASHION_MNIST, load_fashion_mnist
    from dataset.mnist import MNIST, load_mnist

    return {"mnist": (load_mnist, MNIST), "fashion-mnist": (load_fashion_mnist, FASHION_MNIST)}


def __getattr__(name):
    # The loaders are imported on first use, not above: otherwise `python -m dataset.mnist`
    # would find dataset.mnist already imported by this file, and runpy warns about that.
    if name == "load_mnist":
        from dataset.mnist import load_mnist

        return load_mnist
    if name == "load_fashion_mnist":
        from dataset.fashion_mnist import load_fashion_mnist

        return load_fashion_mnist
    raise AttributeError(f"module 'dataset' has no attribute {name!r}")
