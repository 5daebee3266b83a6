"""The settings of a training run, their defaults and their checks: plain Python, no Keras.

The command line builds its `train` options from `TrainConfig`'s fields and checks them here
before any backend loads; `ganutils.training` trains with the same object.
"""

import dataclasses
from dataclasses import dataclass, field

FAMILIES = ("gan", "cgan", "dcgan", "cdcgan")
BACKENDS = ("tensorflow", "jax", "torch")  # Keras backends ganutils runs on; each is also an extra of the package
CLUSTERED_TWINS = {"gan": "cgan", "dcgan": "cdcgan"}  # the architecture an unconditional family trains with clusters
CONVOLUTIONAL_FAMILIES = ("dcgan", "cdcgan")  # the families whose models may take a label as a bias
DATASETS = ("mnist", "fashion_mnist")
GENERATOR_LOSSES = ("non_saturating", "minimax")
LABEL_INPUTS = ("one_hot", "bias")  # how a conditional model takes its label: `TrainConfig.label_input`
LATENT_DIM = 100
MAX_LATENT_DIM = 1024  # a noise vector this long gives the DCGAN's first layer 6.4 million weights; the course uses 100
MAX_CLUSTERS = 1000
MAX_SEED = 2**32 - 1
MAX_SHIFT = 7  # a quarter of the image's side
SEED = 42  # every lesson's, the command line's and each shipped model's
SELF_CONDITIONED_DCGAN = "self-conditioned dcgan"  # lesson 3's second run: dcgan on k-means clusters
SELF_CONDITIONING_CLUSTERS = 100
# Each lesson's recipe: the settings in which its runs differ, written once. The lessons, the
# command line's defaults and the shipped generators all take them from here; docs/design.md,
# "Recipes", gives the measurements behind each.
RECIPES = {
    "gan": {"steps": 30_000, "learning_rate": 2e-4, "halflife": 0, "ema_decay": 0.999, "max_shift": 0, "label_input": "one_hot"},
    "cgan": {"steps": 30_000, "learning_rate": 2e-4, "halflife": 0, "ema_decay": 0.999, "max_shift": 0, "label_input": "one_hot"},
    "dcgan": {"steps": 12_000, "learning_rate": 1e-3, "halflife": 0, "ema_decay": 0.999, "max_shift": 2, "label_input": "one_hot"},
    SELF_CONDITIONED_DCGAN: {
        "steps": 4_000, "learning_rate": 1e-3, "halflife": 1_500, "ema_decay": 0.0, "max_shift": 2, "label_input": "bias",
    },
    "cdcgan": {"steps": 5_000, "learning_rate": 1e-3, "halflife": 0, "ema_decay": 0.0, "max_shift": 2, "label_input": "one_hot"},
}
SHIPPED_MODELS = {  # each generator in trained_models/, and the lesson whose full run exports it
    "gan": "01_gan",
    "cgan": "02_cgan",
    "dcgan": "03_dcgan",
    "dcgan_self_conditioned": "03_dcgan",
    "cdcgan": "04_cdcgan",
}
RECIPE_SETTINGS = ("learning_rate", "halflife", "ema_decay", "max_shift", "label_input")  # None in a TrainConfig: the recipe's value
TYPE_NAMES = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}


class ConfigError(ValueError):
    """A setting outside its range; `setting` names the field."""

    def __init__(self, setting, message):
        super().__init__(f"{setting}: {message}")
        self.setting, self.message = setting, message


def _setting(default, help, kind=None):
    """A field of `TrainConfig` with the sentence the command line shows for it, and its type where the default is None."""
    return field(default=default, metadata={"help": help, "type": kind or type(default)})


def recipe_name(family, clusters=0):
    """The key of `RECIPES` for a run: the family's, or lesson 3's self-conditioned DCGAN's."""
    return SELF_CONDITIONED_DCGAN if family == "dcgan" and clusters else family


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved with every checkpoint."""

    family: str = _setting("cdcgan", "which GAN: gan, cgan, dcgan or cdcgan")
    data: str = _setting("mnist", "training set: mnist or fashion_mnist")
    batch_size: int = _setting(64, "real images per step, and as many generated ones")
    latent_dim: int = _setting(LATENT_DIM, "size of the noise vector z")
    learning_rate: float | None = _setting(None, "Adam step size of both players", float)
    halflife: int | None = _setting(None, "both learning rates shrink smoothly, halving every this many steps; 0: they stay constant", int)
    beta_1: float = _setting(0.5, "Adam's first-moment decay (the DCGAN paper's 0.5; it found 0.9 made training oscillate)")
    label_smoothing: float = _setting(0.1, "D's target for real images is 1 - this")
    generator_loss: str = _setting("non_saturating", "G's loss: non_saturating (-log D(G(z))) or minimax (log(1 - D(G(z))))")
    alternating: bool = _setting(False, "update D first and let G answer the updated D (Algorithm 1); default: both from one forward pass")
    real_and_fake_together: bool = _setting(False, "D judges real images and fakes as one batch (matters for batch norm in D)")
    seed: int = _setting(SEED, "seeds weights, noise and data order")
    mixed_precision: bool = _setting(False, "float16 maths with float32 weights (for GPUs with tensor cores; slow on a CPU)")
    ema_decay: float | None = _setting(None, "the saved generator is a moving average of G's weights with this decay; 0: G itself", float)
    clusters: int = _setting(0, "gan and dcgan: train on this many k-means clusters of the images as labels (self-conditioning); 0: off")
    max_shift: int | None = _setting(None, "in training, D shifts each image it judges by up to this many pixels; 0: no shift", int)
    label_input: str | None = _setting(
        None, "how the label (or cluster) enters a conditional model: one_hot (a vector, or in the convolutional models one "
        "constant plane per class); bias (convolutional models: a learned number per class added to each channel of G's "
        "7x7 map and of D's first convolution's output, which costs next to nothing per class)", str)

    def __post_init__(self):
        self._check_types()
        if self.family not in FAMILIES:
            raise ConfigError("family", f"choose one of {', '.join(FAMILIES)}, got {self.family!r}")
        for name in RECIPE_SETTINGS:
            if getattr(self, name) is None:
                setattr(self, name, self.recipe[name])
        for setting, fine, message in self._checks():
            if not fine:
                raise ConfigError(setting, message)

    def _check_types(self):
        """Refuse a value of the wrong type, before `_checks` compares it with its range."""
        for setting in settings():
            value = getattr(self, setting.name)
            if value is None and setting.name in RECIPE_SETTINGS:  # the recipe's value
                continue
            if not is_of_type(value, setting_type(setting)):
                raise ConfigError(setting.name, f"must be {TYPE_NAMES[setting_type(setting)]}, got {value!r}")

    def _checks(self):
        """(setting, whether it is fine, what is wrong otherwise) for every setting."""
        return [
            ("data", self.data in DATASETS, f"choose one of {', '.join(DATASETS)}, got {self.data!r}"),
            ("batch_size", self.batch_size >= 1, f"must be positive, got {self.batch_size}"),
            ("latent_dim", 1 <= self.latent_dim <= MAX_LATENT_DIM, f"must be from 1 to {MAX_LATENT_DIM}, got {self.latent_dim}"),
            ("learning_rate", 0 < self.learning_rate < 1,
             f"must be between 0 and 1, got {self.learning_rate}"),
            ("halflife", self.halflife >= 0, f"must be 0 (constant) or positive, got {self.halflife}"),
            ("beta_1", 0 <= self.beta_1 < 1, f"must be in [0, 1), got {self.beta_1}"),
            ("label_smoothing", 0 <= self.label_smoothing < 0.5, f"must be in [0, 0.5), got {self.label_smoothing}"),
            ("generator_loss", self.generator_loss in GENERATOR_LOSSES,
             f"choose one of {', '.join(GENERATOR_LOSSES)}, got {self.generator_loss!r}"),
            ("seed", 0 <= self.seed <= MAX_SEED, f"must be from 0 to {MAX_SEED}, got {self.seed}"),
            ("ema_decay", 0 <= self.ema_decay < 1, f"must be in [0, 1), got {self.ema_decay}"),
            ("max_shift", 0 <= self.max_shift <= MAX_SHIFT, f"must be from 0 to {MAX_SHIFT}, got {self.max_shift}"),
            ("label_input", self.label_input in LABEL_INPUTS, f"choose one of {', '.join(LABEL_INPUTS)}, got {self.label_input!r}"),
            ("label_input", self.label_input == "one_hot" or self.family in CONVOLUTIONAL_FAMILIES,
             f"bias is for the convolutional models ({' and '.join(CONVOLUTIONAL_FAMILIES)}), not {self.family}"),
            ("clusters", not self.clusters or self.family in CLUSTERED_TWINS,
             f"is for the unconditional models ({' and '.join(CLUSTERED_TWINS)}); {self.family} has labels"),
            ("clusters", self.clusters == 0 or 2 <= self.clusters <= MAX_CLUSTERS,
             f"must be 0 (off) or from 2 to {MAX_CLUSTERS}, got {self.clusters}"),
        ]

    @property
    def recipe(self):
        """This run's recipe in `RECIPES`: its family's, or the self-conditioned DCGAN's."""
        return RECIPES[recipe_name(self.family, self.clusters)]

    @property
    def recipe_steps(self):
        """The number of training steps of this run's recipe."""
        return self.recipe["steps"]

    def as_dict(self):
        """The settings as a plain dict, as checkpoints and run.json store them."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """The config that `as_dict` gave `values`, with checked values; a setting an older file lacks takes what its version meant.

        The family must be there, and nothing but settings.
        """
        if not isinstance(values, dict):
            raise ConfigError("config", f"must be a dict of settings, got {type(values).__name__}")
        unknown = sorted(set(values) - {setting.name for setting in settings()})
        if unknown:
            raise ConfigError(unknown[0], "is not a setting of this version of ganutils")
        if "family" not in values:
            raise ConfigError("family", "is missing")
        return cls(**{**_meant_by_older_files(values), **values})


def _meant_by_older_files(values):
    """The settings that files written before them trained with: constant rates, G's average of decay 0.999, D's shift only in the plain DCGAN, one-hot labels."""
    plain_dcgan = values.get("family") == "dcgan" and not values.get("clusters")
    return {"halflife": 0, "ema_decay": 0.999, "max_shift": 2 if plain_dcgan else 0, "label_input": "one_hot"}


def settings():
    """The fields of `TrainConfig`, with their defaults and help texts, in order."""
    return dataclasses.fields(TrainConfig)


def setting_type(setting):
    """The type of a setting's values."""
    return setting.metadata["type"]


def option_name(setting_name):
    """The command line's option for a setting: `batch_size` is `--batch-size`."""
    return "--" + setting_name.replace("_", "-")


def is_of_type(value, kind):
    """Whether `value` is of type `kind` as JSON or a setting means it: a whole number is a number, True and False are neither."""
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, (int, float) if kind is float else kind)
