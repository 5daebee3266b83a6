"""Shapes, value ranges and conditioning of the four GAN families."""

import keras
import numpy as np
import pytest
from keras import layers

from gradients import numpy

from ganutils.config import RECIPES, SELF_CONDITIONED_DCGAN
from ganutils.models import (
    CLUSTERED_TWINS,
    DCGAN_HIDDEN_UNITS,
    FAMILIES,
    RandomShift,
    build_combined,
    build_models,
    is_conditional,
    with_cluster_code,
)

BATCH = 5


def _inputs(model, main):
    labels = np.arange(BATCH, dtype=np.int32) % 10
    return [main, labels] if is_conditional(model) else main


@pytest.mark.parametrize("family", FAMILIES)
def test_generator_and_discriminator_shapes_and_ranges(family):
    generator, discriminator = build_models(family)
    assert is_conditional(generator) == is_conditional(discriminator) == family.startswith("c")
    noise = np.random.default_rng(0).standard_normal((BATCH, 100)).astype(np.float32)
    images = numpy(generator(_inputs(generator, noise)))
    assert images.shape == (BATCH, 28, 28, 1)
    assert -1.0 <= images.min() and images.max() <= 1.0 and images.std() > 0
    logits = numpy(discriminator(_inputs(discriminator, images)))
    assert logits.shape == (BATCH, 1) and np.all(np.isfinite(logits))
    combined = build_combined(generator, discriminator)
    assert combined(_inputs(generator, noise)).shape == (BATCH, 1)


@pytest.mark.parametrize("family, label_input", [("cgan", "one_hot"), ("cdcgan", "one_hot"), ("cdcgan", "bias")])
def test_label_changes_what_the_conditional_models_compute(family, label_input):
    generator, discriminator = build_models(family, label_input=label_input)
    noise = np.repeat(np.random.default_rng(1).standard_normal((1, 100)).astype(np.float32), 2, axis=0)
    labels = np.array([3, 7], dtype=np.int32)
    images = numpy(generator([noise, labels]))
    assert not np.allclose(images[0], images[1])
    same_images = np.repeat(images[:1], 2, axis=0)
    probabilities = numpy(discriminator([same_images, labels]))
    assert probabilities[0, 0] != probabilities[1, 0]


def test_latent_size_is_configurable():
    generator, _ = build_models("dcgan", latent_dim=16)
    assert generator.inputs[0].shape == (None, 16)


def test_unknown_family_is_rejected():
    with pytest.raises(ValueError, match="unknown model 'wgan'"):
        build_models("wgan")


def test_only_the_unconditional_dcgan_generator_has_the_mapping_layer():
    def dense_widths(model):
        return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]

    assert dense_widths(build_models("dcgan")[0]) == [DCGAN_HIDDEN_UNITS, 7 * 7 * 128]
    assert dense_widths(build_models("cdcgan")[0]) == [7 * 7 * 128]


def _shifts_found(images, shifted, max_shift):
    """For each image, every (down, right) offset of the background-padded image that equals its shifted copy."""
    width = 2 * max_shift + 1
    padded = np.pad(images, [(0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)], constant_values=-1.0)
    return [
        [(dy, dx) for dy in range(width) for dx in range(width) if np.array_equal(pad[dy:dy + 28, dx:dx + 28], out)]
        for pad, out in zip(padded, shifted)
    ]


def test_random_shift_moves_each_image_by_whole_pixels_in_training_only():
    images = np.random.default_rng(2).uniform(-1, 1, (32, 28, 28, 1)).astype(np.float32)
    layer = RandomShift(2)
    shifts = _shifts_found(images, np.asarray(layer(images, training=True)), 2)
    assert all(len(found) == 1 for found in shifts)  # every output is one shifted copy, padded with -1
    assert len({found[0] for found in shifts}) > 5  # and the shifts differ between images
    np.testing.assert_array_equal(np.asarray(layer(images)), images)


def _max_shifts(model):
    """The `max_shift` of each `RandomShift` layer in a model."""
    return [layer.max_shift for layer in model.layers if isinstance(layer, RandomShift)]


@pytest.mark.parametrize("family", FAMILIES)
def test_each_discriminator_shifts_its_inputs_as_its_recipe_says(family):
    shift = RECIPES[family]["max_shift"]
    assert _max_shifts(build_models(family)[1]) == ([shift] if shift else [])
    assert _max_shifts(build_models(family, max_shift=3)[1]) == [3]
    assert _max_shifts(build_models(family, max_shift=0)[1]) == []


def test_the_self_conditioned_dcgan_takes_its_own_recipes_shift():
    assert _max_shifts(build_models("dcgan", clusters=4)[1]) == [RECIPES[SELF_CONDITIONED_DCGAN]["max_shift"]]


@pytest.mark.parametrize("family", ["gan", "dcgan"])
def test_the_shift_acts_in_training_only_and_g_learns_through_it(family):
    generator, discriminator = build_models(family, max_shift=2)
    fakes = generator(np.random.default_rng(3).standard_normal((BATCH, 100)).astype(np.float32))
    # The GAN step judges the fakes with D in training mode, for both losses: they are shifted too.
    assert not np.allclose(numpy(discriminator(fakes, training=True)), numpy(discriminator(fakes, training=True)))
    np.testing.assert_array_equal(numpy(discriminator(fakes)), numpy(discriminator(fakes)))


def test_a_saved_dcgan_discriminator_loads_with_its_shift(tmp_path):
    discriminator = build_models("dcgan")[1]
    discriminator.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    assert _max_shifts(loaded) == [RECIPES["dcgan"]["max_shift"]]


def test_cluster_code_draws_each_cluster_as_often_as_its_share():
    shares = np.array([0.5, 0.1, 0.3, 0.1])
    generator, _ = build_models("gan", latent_dim=8, clusters=4)
    code = with_cluster_code(generator, shares).get_layer("cluster_code")
    noise = np.random.default_rng(0).standard_normal((200_000, 8)).astype(np.float32)
    clusters = np.asarray(code(noise))
    assert np.abs(np.bincount(clusters, minlength=4) / len(noise) - shares).max() < 0.005
    assert np.array_equal(np.asarray(code(noise[:100])), clusters[:100])  # the noise alone decides


@pytest.mark.parametrize("family", sorted(CLUSTERED_TWINS))
def test_a_self_conditioned_generator_takes_noise_and_draws_its_clusters_pictures(family, tmp_path):
    generator, discriminator = build_models(family, clusters=3)
    assert is_conditional(generator) and is_conditional(discriminator)  # trained like its conditional twin
    sampler = with_cluster_code(generator, [0.0, 1.0, 0.0])  # always cluster 1
    noise = np.random.default_rng(1).standard_normal((BATCH, 100)).astype(np.float32)
    expected = generator.predict([noise, np.ones(BATCH, np.int32)], verbose=0)
    assert not is_conditional(sampler)
    np.testing.assert_allclose(sampler.predict(noise, verbose=0), expected, atol=1e-6)
    sampler.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(loaded.predict(noise, verbose=0), expected, atol=1e-6)


def test_clusters_are_only_for_the_unconditional_families():
    with pytest.raises(ValueError, match="clusters are for the unconditional models"):
        build_models("cdcgan", clusters=5)


def _first(model, kind):
    return next(layer for layer in model.layers if isinstance(layer, kind))


def _input_channels(model, kind):
    """The input channels of a model's first layer of `kind` (a convolution)."""
    return _first(model, kind).kernel.shape[-2 if kind is layers.Conv2D else -1]


@pytest.mark.parametrize("clusters, label_input, extra_channels", [(4, "bias", 0), (4, "one_hot", 4)])
def test_a_label_given_as_a_bias_adds_no_channels(clusters, label_input, extra_channels):
    generator, discriminator = build_models("dcgan", clusters=clusters, label_input=label_input)
    assert _input_channels(discriminator, layers.Conv2D) == 1 + extra_channels
    assert _input_channels(generator, layers.Conv2DTranspose) == 128 + extra_channels


def test_an_unknown_label_input_is_refused():
    with pytest.raises(ValueError, match="unknown label_input 'planes'; choose one of one_hot, bias"):
        build_models("cdcgan", label_input="planes")


def test_the_self_conditioned_dcgan_takes_its_recipes_label_input():
    assert RECIPES[SELF_CONDITIONED_DCGAN]["label_input"] == "bias"
    assert _input_channels(build_models("dcgan", clusters=100)[1], layers.Conv2D) == 1


def test_a_bias_per_label_is_what_one_hot_planes_amount_to_away_from_the_border():
    planes_d = build_models("cdcgan", max_shift=0, label_input="one_hot")[1]
    bias_d = build_models("cdcgan", max_shift=0, label_input="bias")[1]
    kernel, offset = _first(planes_d, layers.Conv2D).get_weights()  # kernel: (4, 4, 1 + classes, filters)
    _first(bias_d, layers.Conv2D).set_weights([kernel[:, :, :1], offset])
    label_bias = next(layer for layer in bias_d.layers if isinstance(layer, layers.Embedding) and layer.output_dim == kernel.shape[-1])
    label_bias.set_weights([kernel[:, :, 1:].sum(axis=(0, 1))])  # a constant plane meets every tap of the kernel
    images = np.random.default_rng(4).uniform(-1, 1, (BATCH, 28, 28, 1)).astype(np.float32)
    labels = np.arange(BATCH, dtype=np.int32)
    first_maps = [numpy(keras.Model(d.inputs, _first(d, layers.LeakyReLU).input)([images, labels])) for d in (planes_d, bias_d)]
    np.testing.assert_allclose(first_maps[0][:, 1:-1, 1:-1], first_maps[1][:, 1:-1, 1:-1], atol=1e-5)
    assert not np.allclose(first_maps[0], first_maps[1], atol=1e-5)  # at the border some taps fall on padding
