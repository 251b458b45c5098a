"""Fashion-MNIST: Zalando's photos of clothes, a drop-in replacement for MNIST.

Same sizes (60000 + 10000 images of 28 × 28, 10 classes) and the same loader as
dataset.mnist, so `load_fashion_mnist` can stand wherever `load_mnist` does; it is harder to
learn. The files come from the cache, data_home()/fashion-mnist/, the Debian package
dataset-fashion-mnist, or Zalando's mirrors. Run `python -m dataset.fashion_mnist` to fill
the cache.
"""

from common.cli import run_main
from dataset._store import DatasetSpec, IdxFile, load, run_cli

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    # SHA-256 of the decompressed files
    train_images=IdxFile("train-images-idx3-ubyte", (60000, 28, 28),
                         "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    train_labels=IdxFile("train-labels-idx1-ubyte", (60000,),
                         "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    test_images=IdxFile("t10k-images-idx3-ubyte", (10000, 28, 28),
                        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    test_labels=IdxFile("t10k-labels-idx1-ubyte", (10000,),
                        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    system_folder="/usr/share/datasets/fashion-mnist",
    system_hint="`apt-get install dataset-fashion-mnist` provides it",
    # plain http is fine for the second mirror: every byte is checked against the hashes above
    mirrors=(
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
)


def load_fashion_mnist(normalize=True, flatten=True, one_hot_label=False):
    """Return Fashion-MNIST as (x_train, t_train), (x_test, t_test); as load_mnist does.

    x_train: (60000, 784), x_test: (10000, 784) images, or (N, 1, 28, 28) if not `flatten`;
        float32 in [0, 1] (pixel / 255) if `normalize`, else uint8 in 0..255.
    t_train: (60000,), t_test: (10000,) uint8 classes 0..9 (names in FASHION_MNIST.class_names),
        or (N, 10) float32 one-hot rows if `one_hot_label`.
    Raises DatasetUnavailableError (an OSError) when no source has the data, or there is no
    folder to keep it in; ValueError for a flag that is not True or False.
    """
    return load(FASHION_MNIST, normalize=normalize, flatten=flatten, one_hot_label=one_hot_label)


def main(argv=None):
    return run_cli(FASHION_MNIST, argv)


if __name__ == "__main__":
    run_main(main)
