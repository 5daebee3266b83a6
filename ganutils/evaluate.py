"""Measuring generated digits with an MNIST classifier, the judge, as TF-GAN does.

The judge is a small CNN trained by `scripts/train_judge.py` on the 10,000 MNIST test digits,
which no GAN in the course trains on; its weights ship in `ganutils/assets/`. Every metric is
reported beside the same metric for real training digits at the same sample count, since the
classifier score and the Fréchet distance both depend on that count.

- classifier score: exp(E_x KL(p(y|x) || p(y))), the Inception Score formula with the judge
  ("MNIST score" in TF-GAN); 1 for one repeated image, 10 for confident, balanced digits.
- Fréchet distance: between Gaussians fitted to the judge's penultimate-layer features of
  the samples and of the judge's own 10,000 training digits; 0 is a perfect match.
- conditional accuracy and cross-entropy: how often (and how confidently) the judge reads
  a conditional sample as the label it was generated for.
"""

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ganutils.models import NUM_CLASSES, is_conditional

ASSETS = Path(__file__).resolve().parent / "assets"
JUDGE_PATH = ASSETS / "judge.keras"
REFERENCE_PATH = ASSETS / "judge_reference.npz"  # feature mean and covariance of the judge's training digits
JUDGE_INFO_PATH = ASSETS / "judge.json"  # how the judge was trained and how accurate it is
FEATURES_LAYER = "features"
DEFAULT_SAMPLES = 1000


def build_judge():
    """The judge's CNN: images in [-1, 1], shape (28, 28, 1), to probabilities of 0-9."""
    import keras
    from keras import layers

    def conv_block(x, filters):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.ReLU()(layers.BatchNormalization()(x))
        return layers.MaxPooling2D()(x)

    images = keras.Input((28, 28, 1), name="image")
    x = conv_block(conv_block(images, 32), 64)
    x = layers.Dense(128, activation="relu", name=FEATURES_LAYER)(layers.Flatten()(x))
    probabilities = layers.Dense(NUM_CLASSES, activation="softmax")(layers.Dropout(0.2)(x))
    return keras.Model(images, probabilities, name="mnist_judge")


def with_features(judge):
    """The judge as a model with two outputs: class probabilities and penultimate features."""
    import keras

    return keras.Model(judge.inputs, [judge.output, judge.get_layer(FEATURES_LAYER).output])


@lru_cache(maxsize=1)
def load_judge():
    """The shipped judge, with its features as a second output."""
    import keras

    return with_features(keras.models.load_model(JUDGE_PATH, compile=False))


@lru_cache(maxsize=1)
def reference_statistics():
    """Feature mean and covariance of the judge's training digits, as shipped."""
    with np.load(REFERENCE_PATH) as reference:
        return reference["mean"], reference["covariance"]


def judge_info():
    """What `scripts/train_judge.py` recorded: training data and held-out accuracy."""
    return json.loads(JUDGE_INFO_PATH.read_text())


def judge_images(images):
    """The judge's class probabilities (n, 10) and features (n, 128) for images in [-1, 1]."""
    images = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
    probabilities, features = load_judge().predict(images, batch_size=500, verbose=0)
    return probabilities.astype(np.float64), features.astype(np.float64)


def classifier_score(probabilities):
    """exp(mean KL(p(y|x) || p(y))) over all samples at once: from 1 up to the class count."""
    probabilities = np.clip(probabilities, 1e-12, 1.0)
    marginal = probabilities.mean(axis=0, keepdims=True)
    kl = np.sum(probabilities * (np.log(probabilities) - np.log(marginal)), axis=1)
    return float(np.exp(kl.mean()))


def feature_statistics(features):
    """Mean and covariance of a feature matrix (n, d)."""
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mean, covariance, reference_mean, reference_covariance):
    """Squared Fréchet distance between two Gaussians, given their means and covariances."""
    root = _symmetric_sqrt(reference_covariance)
    cross_trace = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root @ covariance @ root), 0, None)))
    distance = np.sum((mean - reference_mean) ** 2) + np.trace(covariance) + np.trace(reference_covariance)
    return float(distance - 2 * cross_trace)


def _symmetric_sqrt(matrix):
    """Square root of a symmetric positive semi-definite matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def conditional_accuracy(probabilities, labels):
    """Fraction of samples whose most likely class is their label."""
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def conditional_cross_entropy(probabilities, labels):
    """Mean -log p(label | x) under the judge, in nats."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def image_metrics(images, labels=None):
    """Every metric for a set of images in [-1, 1]; conditional ones when labels are given."""
    probabilities, features = judge_images(images)
    metrics = {
        "n": len(probabilities),
        "classifier_score": classifier_score(probabilities),
        "frechet_distance": frechet_distance(*feature_statistics(features), *reference_statistics()),
    }
    if labels is not None:
        metrics["conditional_accuracy"] = conditional_accuracy(probabilities, labels)
        metrics["cross_entropy"] = conditional_cross_entropy(probabilities, labels)
    return metrics


def generator_samples(generator, n, seed=0):
    """`n` samples in [-1, 1] and their labels (0-9 in turn; None if unconditional)."""
    from ganutils.sampling import sample_images

    images, labels = sample_images(generator, n, seed=seed)
    return images * 2.0 - 1.0, labels


def real_samples(real, n, seed=0):
    """`n` real digits drawn without replacement from `Digits`, and their labels."""
    if n > len(real.images):
        raise ValueError(f"only {len(real.images):,} real digits for the reference; ask for at most that many")
    picked = np.random.default_rng(seed).permutation(len(real.images))[:n]
    return real.images[picked], real.labels[picked]


def evaluate_generator(generator, n=DEFAULT_SAMPLES, seed=0, real=None):
    """Metrics of `n` samples from `generator`, and of `n` real digits for reference.

    Args:
        generator: a generator model (conditional ones are asked for 0-9 in turn).
        n: samples from each side; the classifier score and Fréchet distance depend on it.
        seed: seeds the noise and the choice of real digits.
        real: `Digits` for the reference; by default the course's MNIST training digits.
    Returns:
        {"generated": metrics, "real": metrics, "real_source": str}
    """
    if n < 2:
        raise ValueError(f"the number of samples must be at least 2, got {n}")
    if real is None:
        from ganutils.data import load_mnist

        real = load_mnist("train", verbose=False)
    real_images, real_labels = real_samples(real, n, seed)
    images, labels = generator_samples(generator, n, seed)
    conditional = is_conditional(generator)
    return {
        "generated": image_metrics(images, labels),
        "real": image_metrics(real_images, real_labels if conditional else None),
        "real_source": real.source,
    }


def digit_shares(images):
    """The share of `images` (in [-1, 1]) that the judge reads as each digit, 0 to 9."""
    probabilities, _ = judge_images(images)
    return np.bincount(np.argmax(probabilities, axis=1), minlength=NUM_CLASSES) / len(probabilities)


def nearest_neighbours(images, reference, k=1, batch=500):
    """The indices in `reference` of each image's `k` nearest images, nearest first, and their pixel (Euclidean) distances."""
    flat_reference = reference.reshape(len(reference), -1).astype(np.float64)
    reference_norms = (flat_reference**2).sum(axis=1)
    indices, distances = [], []
    for start in range(0, len(images), batch):
        flat = images[start:start + batch].reshape(-1, flat_reference.shape[1]).astype(np.float64)
        squared = (flat**2).sum(axis=1, keepdims=True) - 2 * flat @ flat_reference.T + reference_norms
        nearest = np.argpartition(squared, k - 1, axis=1)[:, :k]  # the k nearest, in no order
        nearest_squared = np.take_along_axis(squared, nearest, axis=1)
        order = np.argsort(nearest_squared, axis=1)
        indices.append(np.take_along_axis(nearest, order, axis=1))
        distances.append(np.sqrt(np.maximum(np.take_along_axis(nearest_squared, order, axis=1), 0.0)))
    return np.concatenate(indices), np.concatenate(distances)


def nearest_distances(images, reference, batch=500):
    """The pixel (Euclidean) distance from each image to its nearest image in `reference`."""
    return nearest_neighbours(images, reference, batch=batch)[1][:, 0]


def memorisation_ratio(images, training, n=1000, seed=0):
    """The median distance from `images` to their nearest training image, over that of training images to their nearest other one.

    A generator whose samples are new digits gives about 1 or more; one that copies its training
    set gives well below 1. Unlike `copying_ratio`, it needs no held-out digits.
    """
    picked = training[np.random.default_rng(seed).permutation(len(training))[:n]]
    to_another = nearest_neighbours(picked, training, k=2)[1][:, 1]  # the nearest is the digit itself
    return float(np.median(nearest_distances(images, training)) / np.median(to_another))


def copying_ratio(images, training, held_out):
    """The median over `images` of (distance to the nearest training image) / (distance to the nearest held-out image).

    Real digits that training never saw give about 1; a generator that copies its training
    set gives well below 1. `held_out` should hold as many images as `training`.
    """
    to_training, to_held_out = nearest_distances(images, training), nearest_distances(images, held_out)
    return float(np.median(to_training / np.maximum(to_held_out, 1e-12)))


def format_report(results):
    """A small table of generated against real figures."""
    generated, real = results["generated"], results["real"]
    rows = [
        (f"classifier score (N={generated['n']:,}, max 10)", "{:.2f}", "classifier_score"),
        ("Fréchet distance in judge features", "{:.2f}", "frechet_distance"),
        ("conditional accuracy", "{:.1%}", "conditional_accuracy"),
        ("cross-entropy against the label (nats)", "{:.3f}", "cross_entropy"),
    ]
    lines = [f"{'metric':<40} {'generated':>10} {'real':>10}"]
    for title, form, key in rows:
        if key in generated:
            lines.append(f"{title:<40} {form.format(generated[key]):>10} {form.format(real[key]):>10}")
    return "\n".join(lines)
