"""Checks of a saved model's config.json before Keras builds it: known layer classes, and weights of a bounded size.

Keras allocates a layer's weights while it deserializes the model, so a small file could ask for
gigabytes; these checks read the configuration first and refuse such a file with one line.
"""

import math

MAX_WEIGHTS = 50_000_000  # numbers in all of a model's weights (200 MB as float32); the course's largest model holds 1.6 million
MAX_LAYER_SETTING = 100_000  # units, filters, vocabulary or classes of one layer; the course's largest is 6,272 units
MAX_UPSAMPLING = 8  # how many times UpSampling2D may enlarge each side; the course's models use 2 or 7
MAX_LAYERS = 1_000  # layers in a model, nested models included; the course's largest holds 30
MODELS = {"Functional", "Sequential"}  # a model inside a model: its layers are checked in turn
WEIGHTLESS_LAYERS = {
    "InputLayer", "Activation", "LeakyReLU", "ReLU", "Reshape", "Flatten", "Concatenate", "Add", "Multiply", "Dot",
    "Dropout", "MaxPooling2D", "AveragePooling2D", "ZeroPadding2D", "Cropping2D", "Identity", "RandomShift",
}  # layers of the course's models and its lessons' exercises that hold no weights
CATEGORY_ENCODING = "CategoryEncoding"  # no weights, but an output as wide as its number of classes
UPSAMPLING = "UpSampling2D"


class ModelFileError(ValueError):
    """A model file is missing, is not a Keras model, is too large, or is not a generator."""


def check_model_config(config, path):
    """Refuse a model configuration with a layer of an unknown class, or with more weights than `MAX_WEIGHTS` in all."""
    layers = list(_layers(config, path))
    if len(layers) > MAX_LAYERS:
        raise ModelFileError(f"{path}: holds {len(layers):,} layers, more than the {MAX_LAYERS:,} ganutils loads")
    total = sum(_weight_count(layer, path) for layer in layers)
    if total > MAX_WEIGHTS:
        raise ModelFileError(f"{path}: its layers hold {total:,} weights, more than the {MAX_WEIGHTS:,} ganutils loads")


def _layers(config, path, depth=0):
    """Every layer of a model's configuration, those of nested models included."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ModelFileError(f"{path}: not a Keras model file (its config.json is not a model's configuration)")
    if config.get("class_name") not in MODELS or depth > 4:
        raise ModelFileError(f"{path}: not a model ganutils loads (its configuration is a {config.get('class_name')!r})")
    for layer in _as_list(config["config"].get("layers"), path):
        if isinstance(layer, dict) and layer.get("class_name") in MODELS:
            yield from _layers(layer, path, depth + 1)
        else:
            yield layer


def _as_list(value, path):
    if not isinstance(value, list):
        raise ModelFileError(f"{path}: not a Keras model file (a model's layers are not a list)")
    return value


def _weight_count(layer, path):
    """How many weights a layer's configuration asks Keras to allocate; refuses an unknown class or a setting out of bounds."""
    if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
        raise ModelFileError(f"{path}: not a Keras model file (a layer's configuration is not a dict)")
    kind, settings = layer.get("class_name"), layer["config"]
    name = f"layer {settings.get('name')!r} ({kind})"
    if kind in WEIGHTLESS_LAYERS:
        return 0
    if kind == CATEGORY_ENCODING:
        _setting(settings, "num_tokens", name, path)
        return 0
    if kind == UPSAMPLING:
        if any(size > MAX_UPSAMPLING for size in _sizes(settings.get("size", 2), name, path)):
            raise ModelFileError(f"{path}: {name} enlarges images more than {MAX_UPSAMPLING} times a side")
        return 0
    if kind not in WEIGHT_COUNTS:
        raise ModelFileError(f"{path}: {name} is of a class ganutils does not load")
    shape = None if kind in SIZED_BY_SETTINGS else _input_shape(layer, name, path)
    return WEIGHT_COUNTS[kind](settings, shape, name, path)


def _input_shape(layer, name, path):
    """A layer's input shape, from its `build_config` (which Keras builds the layer from): whole numbers, None for the batch."""
    build_config = layer.get("build_config")
    shape = build_config.get("input_shape") if isinstance(build_config, dict) else None
    if not isinstance(shape, list) or not shape or not all(size is None or _is_count(size) for size in shape) \
            or not _is_count(shape[-1]):
        raise ModelFileError(f"{path}: {name} has no input shape in its build_config; ganutils cannot bound its size")
    return [size for size in shape if size is not None]


def _setting(settings, key, name, path):
    """A layer's size setting: a whole number from 1 to `MAX_LAYER_SETTING`."""
    value = settings.get(key)
    if not _is_count(value) or value > MAX_LAYER_SETTING:
        raise ModelFileError(f"{path}: {name} has {key} {value!r}; ganutils loads from 1 to {MAX_LAYER_SETTING:,}")
    return value


def _sizes(value, name, path):
    """A kernel or upsampling size: one whole number, or one per side."""
    sizes = value if isinstance(value, list) else [value]
    if not sizes or not all(_is_count(size) for size in sizes):
        raise ModelFileError(f"{path}: {name} has a size {value!r} that is not whole numbers")
    return sizes


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_WEIGHTS


# Each counts a layer's weights from its settings and input shape; where the channel axis is a
# setting, the largest axis stands for it, which can only overcount.

def _dense(settings, shape, name, path):
    return (shape[-1] + 1) * _setting(settings, "units", name, path)


def _convolution(settings, shape, name, path):
    kernel = math.prod(_sizes(settings.get("kernel_size"), name, path))
    if kernel > MAX_LAYER_SETTING:
        raise ModelFileError(f"{path}: {name} has a kernel of {kernel:,} pixels")
    return (kernel * max(shape) + 1) * _setting(settings, "filters", name, path)


def _embedding(settings, shape, name, path):
    return _setting(settings, "input_dim", name, path) * _setting(settings, "output_dim", name, path)


def _normalization(settings, shape, name, path):
    return 4 * max(shape)


def _cluster_code(settings, shape, name, path):
    return _setting(settings, "num_clusters", name, path)


WEIGHT_COUNTS = {
    "Dense": _dense,
    "Conv2D": _convolution,
    "Conv2DTranspose": _convolution,
    "Embedding": _embedding,
    "BatchNormalization": _normalization,
    "LayerNormalization": _normalization,
    "ClusterCode": _cluster_code,
}  # layers that hold weights, and how many a configuration asks for
SIZED_BY_SETTINGS = {"Embedding", "ClusterCode"}  # their settings alone size their weights, whatever their input's shape
