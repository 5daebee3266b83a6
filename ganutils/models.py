"""Generators and discriminators of the course's four GAN families, and Keras 2's combined model.

Defaults follow the DCGAN paper (Radford et al., 2016) where it gives one: a 100-dimensional
noise vector, weights drawn from N(0, 0.02), LeakyReLU with slope 0.2, batch normalisation
in the generator, tanh output, strided convolutions instead of pooling. Five choices are ours:
- the convolutional models are narrower (128 and 64 filters), for speed on a CPU;
- the discriminators have no batch normalisation, so that D's verdict on an image depends on
  that image alone (a D with batch norm trains too: see `ganutils.gan.GAN`'s
  `real_and_fake_together`);
- conditional models use the label more than once: the convolutional generator sees it with
  the noise and again as planes beside its 7x7 feature map, the MLP generator at every hidden
  layer, and both discriminators beside the image and in a projection output (Miyato &
  Koyama, 2018);
- the unconditional DCGAN generator passes the noise through one dense layer of 100 units
  (with batch norm and LeakyReLU) before the 7x7 projection, a one-layer version of StyleGAN's
  mapping network (Karras et al., 2019): without a label, G must split its noise space into
  ten digits;
- the convolutional discriminators shift their inputs by up to 2 pixels in training
  (`RandomShift`, the recipes' `max_shift`), so that they cannot memorise the 5,000-digit
  offline training set.
Optionally (`build_models(..., clusters=K)`), an unconditional model is self-conditioned: built
as its conditional twin with one class per k-means cluster of the training images, and sampled
through `ClusterCode`, which draws the cluster from the noise (Liu et al., 2020). With
`label_input="bias"` (the self-conditioned DCGAN's recipe) the convolutional models take the
label or cluster as a learned bias per class on their channels instead of as planes.
What each choice did, measured, is in docs/design.md.
"""

import math
import random
from functools import partial

import keras
from keras import layers, ops

from ganutils.config import CLUSTERED_TWINS, CONVOLUTIONAL_FAMILIES, FAMILIES, LABEL_INPUTS, LATENT_DIM, RECIPES, recipe_name
from ganutils.data import IMAGE_SHAPE, NUM_CLASSES
LEAKY_SLOPE = 0.2
INIT_STDDEV = 0.02
DCGAN_HIDDEN_UNITS = 100  # width of the unconditional DCGAN generator's dense layer between noise and 7x7 map
BACKGROUND = -1.0  # the value of an empty pixel in [-1, 1] images


def _initializer():
    """DCGAN paper: every weight starts from a zero-centred normal with std 0.02."""
    return keras.initializers.RandomNormal(stddev=INIT_STDDEV)


def _layer_seed():
    """A seed for a layer's random numbers, from Python's generator (which `keras.utils.set_random_seed` seeds).

    With a seed of its own, a layer keeps its random state in a variable that checkpoints save,
    on every backend (unseeded dropout on PyTorch draws from the global generator instead).
    """
    return random.randrange(2**31)


def _inputs(shape, num_classes, name):
    """A model's main input, plus an integer label input when it is conditional."""
    main = keras.Input(shape=shape, name=name)
    if num_classes is None:
        return [main], None
    label = keras.Input(shape=(), dtype="int32", name="label")
    return [main, label], label


def _model(inputs, outputs, name):
    """A functional model that takes a bare tensor when it has a single input."""
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=name)


def _one_hot(label, num_classes):
    """Integer labels to one-hot vectors."""
    return layers.CategoryEncoding(num_classes, output_mode="one_hot")(label)


def _join_label(vector, label, num_classes):
    """Append the one-hot label to a flat vector; unconditional models pass label=None."""
    if label is None:
        return vector
    return layers.Concatenate()([vector, _one_hot(label, num_classes)])


def _join_label_planes(image, label, num_classes):
    """Append one constant plane per class to an image: the label's plane is ones."""
    if label is None:
        return image
    height, width = image.shape[1], image.shape[2]
    planes = layers.Reshape((1, 1, num_classes))(_one_hot(label, num_classes))
    planes = layers.UpSampling2D(size=(height, width))(planes)
    return layers.Concatenate()([image, planes])


def _add_label_bias(features, label, num_classes):
    """Add to each channel of a feature map a learned number for the label (before a convolution, one-hot planes amount to this away from the border)."""
    if label is None:
        return features
    channels = features.shape[-1]
    bias = layers.Embedding(num_classes, channels, embeddings_initializer=_initializer())(label)
    return layers.Add()([features, layers.Reshape((1, 1, channels))(bias)])


def _check_label_input(label_input):
    if label_input not in LABEL_INPUTS:
        raise ValueError(f"unknown label_input {label_input!r}; choose one of {', '.join(LABEL_INPUTS)}")


def _leaky(x):
    return layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)


def _dense_norm_leaky(x, units):
    """A generator's dense layer: no bias (batch norm's shift replaces it), batch norm, LeakyReLU."""
    x = layers.Dense(units, use_bias=False, kernel_initializer=_initializer())(x)
    return _leaky(layers.BatchNormalization()(x))


def _shifted(images, max_shift):
    """`images` through a `RandomShift` layer, or unchanged when `max_shift` is 0."""
    return RandomShift(max_shift)(images) if max_shift else images


@keras.saving.register_keras_serializable(package="ganutils")
class RandomShift(layers.Layer):
    """Moves each image by a random whole number of pixels, up to `max_shift` each way, in training only.

    Placed first in D, it shifts real and generated images alike, for D's loss and for G's, so
    G learns through the shift and is not pushed to draw shifted digits: the translation of
    DiffAugment (Zhao et al., 2020), which keeps D from memorising a small training set.
    """

    def __init__(self, max_shift, **kwargs):
        super().__init__(**kwargs)
        self.max_shift = max_shift
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, images, training=None):
        if not training or not self.max_shift:
            return images
        shift = self.max_shift
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        padding = [(0, 0), (shift, shift), (shift, shift), (0, 0)]
        padded = ops.pad(images, padding, constant_values=BACKGROUND)
        rows = self._offsets(batch) + ops.reshape(ops.arange(height), (1, height, 1, 1))
        columns = self._offsets(batch) + ops.reshape(ops.arange(width), (1, 1, width, 1))
        return ops.take_along_axis(ops.take_along_axis(padded, rows, axis=1), columns, axis=2)

    def _offsets(self, batch):
        """Each image's start in the padded image, from 0 to 2 * max_shift."""
        return keras.random.randint((batch, 1, 1, 1), 0, 2 * self.max_shift + 1, seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift}


@keras.saving.register_keras_serializable(package="ganutils")
class ClusterCode(layers.Layer):
    """Picks a cluster for each noise vector from its first entry, each cluster as often as its share.

    With it a generator trained on clusters as labels takes noise alone: z[0] ~ N(0, 1) is
    turned into a uniform number by the normal CDF and then into a cluster by the cumulative
    shares, kept as a weight (`shares`) so that a saved generator keeps them.
    """

    def __init__(self, num_clusters, **kwargs):
        super().__init__(**kwargs)
        self.num_clusters = num_clusters
        self.shares = self.add_weight(
            shape=(num_clusters,), initializer=keras.initializers.Constant(1 / num_clusters), trainable=False, name="shares"
        )

    def call(self, noise):
        uniform = 0.5 * (1.0 + ops.erf(noise[:, 0] / math.sqrt(2.0)))
        upper_bounds = ops.cumsum(self.shares)[:-1]  # the last cluster takes everything above the others
        return ops.sum(ops.cast(uniform[:, None] >= upper_bounds[None, :], "int32"), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "num_clusters": self.num_clusters}


def with_cluster_code(conditional_generator, shares):
    """An unconditional generator: noise -> `ClusterCode` -> the conditional generator, sharing its weights."""
    noise = keras.Input(shape=conditional_generator.inputs[0].shape[1:], name="noise")
    code = ClusterCode(len(shares), name="cluster_code")
    cluster = code(noise)
    code.shares.assign(ops.convert_to_tensor(shares, "float32"))
    return keras.Model(noise, conditional_generator([noise, cluster]), name="clustered_generator")


def _logit_head(features, label, num_classes, hidden_units=128):
    """D's logit from flat features; a conditional head adds the projection <embed(label), h>."""
    if label is None:
        return layers.Dense(1, kernel_initializer=_initializer())(features)
    hidden = _leaky(layers.Dense(hidden_units, kernel_initializer=_initializer())(features))
    unconditional = layers.Dense(1, kernel_initializer=_initializer())(hidden)
    label_vector = layers.Embedding(num_classes, hidden_units)(label)
    return layers.Add()([unconditional, layers.Dot(axes=1)([label_vector, hidden])])


def build_mlp_generator(
    latent_dim=LATENT_DIM, num_classes=None, output_shape=IMAGE_SHAPE, hidden_units=(256, 512, 1024)
):
    """Fully connected generator (GAN, or cGAN when `num_classes` is given): noise -> image.

    Each hidden layer is Dense (no bias), batch normalisation, LeakyReLU, as in the DCGAN
    generator; batch normalisation took the MLP GAN's weight average from a classifier score of
    8.2 to 8.5 after 20,000 steps on the offline MNIST subset.

    Args:
        latent_dim: size of the noise vector z.
        num_classes: number of labels for a conditional generator (the one-hot label joins the
            input of every hidden layer), None for an unconditional one.
        output_shape: shape of one generated sample; values lie in [-1, 1] (tanh).
        hidden_units: width of each hidden layer.
    Returns:
        A `keras.Model` taking noise (and integer labels) and returning samples.
    """
    inputs, label = _inputs((latent_dim,), num_classes, "noise")
    x = inputs[0]
    for units in hidden_units:
        x = _join_label(x, label, num_classes)  # at every hidden layer, so the label keeps steering
        x = _dense_norm_leaky(x, units)
    x = layers.Dense(math.prod(output_shape), activation="tanh", kernel_initializer=_initializer())(x)
    image = layers.Reshape(output_shape)(x)
    return _model(inputs, image, "cgan_generator" if label is not None else "gan_generator")


def build_mlp_discriminator(
    num_classes=None, input_shape=IMAGE_SHAPE, hidden_units=(512, 256), dropout=0.3, max_shift=0
):
    """Fully connected discriminator: image (and label) -> logit, D's score for "real".

    Args:
        num_classes: number of labels for a conditional discriminator (the one-hot label
            joins the flattened image, and a projection head scores both), None otherwise.
        input_shape: shape of one sample.
        hidden_units: width of each hidden layer.
        dropout: dropout rate after each hidden layer.
        max_shift: in training, shift each input image by up to this many pixels first
            (`RandomShift`); 0 for no shift.
    Returns:
        A `keras.Model` taking samples (and integer labels) and returning a logit; D(x) is its sigmoid.
    """
    inputs, label = _inputs(input_shape, num_classes, "image")
    x = _join_label(layers.Flatten()(_shifted(inputs[0], max_shift)), label, num_classes)
    for units in hidden_units:
        x = _leaky(layers.Dense(units, kernel_initializer=_initializer())(x))
        x = layers.Dropout(dropout, seed=_layer_seed())(x)
    logit = _logit_head(x, label, num_classes)
    return _model(inputs, logit, "cgan_discriminator" if label is not None else "gan_discriminator")


def build_dcgan_generator(
    latent_dim=LATENT_DIM, num_classes=None, filters=(128, 64), hidden_units=None, label_input="one_hot"
):
    """Convolutional generator (DCGAN, or cDCGAN with `num_classes`): noise -> 28x28x1 image.

    A dense layer makes a 7x7 feature map with `filters[0]` channels (plus one-hot label
    planes, if conditional); each transposed convolution with stride 2 doubles its size
    (7 -> 14 -> 28), the last one to 1 channel.

    Args:
        latent_dim: size of the noise vector z.
        num_classes: number of labels for a conditional generator (one-hot joins the noise).
        filters: channels of the 7x7 map and of each upsampled map before the last.
        hidden_units: width of a dense layer between the noise and the 7x7 projection (the
            unconditional DCGAN uses `DCGAN_HIDDEN_UNITS`); None for no such layer.
        label_input: "one_hot" joins the label's planes to the 7x7 map; "bias" adds a learned
            number per label to each of its channels instead (no extra channels).
    Returns:
        A `keras.Model` taking noise (and integer labels) and returning images in [-1, 1].
    """
    _check_label_input(label_input)
    inputs, label = _inputs((latent_dim,), num_classes, "noise")
    x = _join_label(inputs[0], label, num_classes)
    if hidden_units:
        x = _dense_norm_leaky(x, hidden_units)
    x = _dense_norm_leaky(x, 7 * 7 * filters[0])
    x = layers.Reshape((7, 7, filters[0]))(x)
    if label_input == "bias":
        x = _add_label_bias(x, label, num_classes)
    else:
        x = _join_label_planes(x, label, num_classes)
    for channels in filters[1:]:
        x = layers.Conv2DTranspose(
            channels, 4, strides=2, padding="same", use_bias=False, kernel_initializer=_initializer()
        )(x)
        x = _leaky(layers.BatchNormalization()(x))
    image = layers.Conv2DTranspose(
        1, 4, strides=2, padding="same", activation="tanh", kernel_initializer=_initializer()
    )(x)
    return _model(inputs, image, "cdcgan_generator" if label is not None else "dcgan_generator")


def build_dcgan_discriminator(num_classes=None, filters=(64, 128), max_shift=0, label_input="one_hot"):
    """Convolutional discriminator: image (and label planes) -> logit, D's score for "real".

    Each strided convolution halves the image (28 -> 14 -> 7); a dense layer gives the logit.

    Args:
        num_classes: number of labels for a conditional discriminator (one-hot planes join
            the image as extra channels, and a projection head scores image and label
            together), None otherwise.
        filters: channels of each strided convolution.
        max_shift: in training, shift each input image by up to this many pixels first
            (`RandomShift`); 0 for no shift.
        label_input: "one_hot" joins the label's planes to the image; "bias" adds a learned
            number per label to each channel of the first convolution's output instead.
    Returns:
        A `keras.Model` taking images (and integer labels) and returning a logit; D(x) is its sigmoid.
    """
    _check_label_input(label_input)
    inputs, label = _inputs(IMAGE_SHAPE, num_classes, "image")
    x = _shifted(inputs[0], max_shift)
    if label_input == "one_hot":
        x = _join_label_planes(x, label, num_classes)
    for index, channels in enumerate(filters):
        x = layers.Conv2D(channels, 4, strides=2, padding="same", kernel_initializer=_initializer())(x)
        if index == 0 and label_input == "bias":
            x = _add_label_bias(x, label, num_classes)
        x = _leaky(x)
    logit = _logit_head(layers.Flatten()(x), label, num_classes)
    return _model(inputs, logit, "cdcgan_discriminator" if label is not None else "dcgan_discriminator")


_BUILDERS = {
    "gan": (build_mlp_generator, build_mlp_discriminator, None),
    "cgan": (build_mlp_generator, build_mlp_discriminator, NUM_CLASSES),
    "dcgan": (
        partial(build_dcgan_generator, hidden_units=DCGAN_HIDDEN_UNITS),
        build_dcgan_discriminator,
        None,
    ),
    "cdcgan": (build_dcgan_generator, build_dcgan_discriminator, NUM_CLASSES),
}


def build_models(family, latent_dim=LATENT_DIM, clusters=0, max_shift=None, label_input=None):
    """Build the (generator, discriminator) pair of one family: gan, cgan, dcgan or cdcgan.

    With `clusters`, an unconditional family (gan, dcgan) is built as its conditional twin
    (cgan, cdcgan) with one class per cluster: self-conditioning, trained on clusters of the
    training images as labels and sampled through `with_cluster_code`. D shifts its inputs by
    up to `max_shift` pixels in training, and a convolutional model takes its label as
    `label_input` ("one_hot" or "bias"); None: as the run's recipe does.
    """
    if family not in _BUILDERS:
        raise ValueError(f"unknown model {family!r}; choose one of {', '.join(FAMILIES)}")
    recipe = RECIPES[recipe_name(family, clusters)]
    max_shift = recipe["max_shift"] if max_shift is None else max_shift
    label_input = recipe["label_input"] if label_input is None else label_input
    if clusters:
        if family not in CLUSTERED_TWINS:
            raise ValueError(f"clusters are for the unconditional models ({', '.join(CLUSTERED_TWINS)}), not {family}")
        architecture, num_classes = CLUSTERED_TWINS[family], clusters
    else:
        architecture, num_classes = family, _BUILDERS[family][2]
    build_generator, build_discriminator, _ = _BUILDERS[architecture]
    label_options = {"label_input": label_input} if architecture in CONVOLUTIONAL_FAMILIES else {}
    return (
        build_generator(latent_dim, num_classes=num_classes, **label_options),
        build_discriminator(num_classes=num_classes, max_shift=max_shift, **label_options),
    )


def build_config_models(config):
    """The (generator, discriminator) pair that a `TrainConfig` trains."""
    return build_models(config.family, config.latent_dim, config.clusters, config.max_shift, config.label_input)


def is_conditional(model):
    """Whether a generator or discriminator takes a label as its second input."""
    return len(model.inputs) == 2


def build_combined(generator, discriminator):
    """G followed by D, the Keras 2 recipe's model for G's step (the benchmarks and tests use it; training does not)."""
    inputs = [
        keras.Input(shape=tensor.shape[1:], dtype=tensor.dtype, name=f"combined_{tensor.name}")
        for tensor in generator.inputs
    ]
    if is_conditional(generator):
        noise, label = inputs
        logit = discriminator([generator([noise, label]), label])
    else:
        logit = discriminator(generator(inputs[0]))
    return _model(inputs, logit, "combined")
