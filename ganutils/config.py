"""The settings of a training run, their defaults and their checks: plain Python, no Keras.

The command line builds its `train` options from `TrainConfig`'s fields and checks them here
before any backend loads; `ganutils.training` trains with the same object.
"""

import dataclasses
from dataclasses import dataclass, field

FAMILIES = ("gan", "cgan", "dcgan", "cdcgan")
BACKENDS = ("tensorflow", "jax", "torch")  # Keras backends ganutils runs on; each is also an extra of the package
CLUSTERED_TWINS = {"gan": "cgan", "dcgan": "cdcgan"}  # the architecture an unconditional family trains with clusters
DATASETS = ("mnist", "fashion_mnist")
GENERATOR_LOSSES = ("non_saturating", "minimax")
LATENT_DIM = 100
MAX_LATENT_DIM = 1024  # a noise vector this long gives the DCGAN's first layer 6.4 million weights; the course uses 100
DEFAULT_STEPS = 3000
MAX_CLUSTERS = 1000
MAX_SEED = 2**32 - 1
# Adam step sizes by family: the convolutional models train faster at 1e-3, the MLPs keep the
# DCGAN paper's 2e-4 (the measurements are in docs/design.md, "Learning rates").
DEFAULT_LEARNING_RATES = {"gan": 2e-4, "cgan": 2e-4, "dcgan": 1e-3, "cdcgan": 1e-3}
TYPE_NAMES = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}


class ConfigError(ValueError):
    """A setting outside its range; `setting` names the field."""

    def __init__(self, setting, message):
        super().__init__(f"{setting}: {message}")
        self.setting, self.message = setting, message


def _setting(default, help):
    """A field of `TrainConfig` with the sentence the command line shows for it."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved with every checkpoint."""

    family: str = _setting("cdcgan", "which GAN: gan, cgan, dcgan or cdcgan")
    data: str = _setting("mnist", "training set: mnist or fashion_mnist")
    batch_size: int = _setting(64, "real images per step, and as many generated ones")
    latent_dim: int = _setting(LATENT_DIM, "size of the noise vector z")
    learning_rate: float | None = _setting(None, "Adam step size of both players (default: 0.001 for dcgan and cdcgan, 0.0002 for gan and cgan)")
    beta_1: float = _setting(0.5, "Adam's first-moment decay (the DCGAN paper's 0.5; it found 0.9 made training oscillate)")
    label_smoothing: float = _setting(0.1, "D's target for real images is 1 - this")
    generator_loss: str = _setting("non_saturating", "G's loss: non_saturating (-log D(G(z))) or minimax (log(1 - D(G(z))))")
    alternating: bool = _setting(False, "update D first and let G answer the updated D (Algorithm 1); default: both from one forward pass")
    real_and_fake_together: bool = _setting(False, "D judges real images and fakes as one batch (matters for batch norm in D)")
    seed: int = _setting(0, "seeds weights, noise and data order")
    mixed_precision: bool = _setting(False, "float16 maths with float32 weights (for GPUs with tensor cores; slow on a CPU)")
    ema_decay: float = _setting(0.999, "the saved generator is a moving average of G's weights with this decay; 0: G itself")
    clusters: int = _setting(0, "gan and dcgan: train on this many k-means clusters of the images as labels (self-conditioning); 0: off")

    def __post_init__(self):
        self._check_types()
        if self.learning_rate is None and self.family in DEFAULT_LEARNING_RATES:
            self.learning_rate = DEFAULT_LEARNING_RATES[self.family]
        for setting, fine, message in self._checks():
            if not fine:
                raise ConfigError(setting, message)

    def _check_types(self):
        """Refuse a value of the wrong type, before `_checks` compares it with its range."""
        for setting in settings():
            value = getattr(self, setting.name)
            if value is None and setting.default is None:  # the learning rate: the family's default
                continue
            if not is_of_type(value, setting_type(setting)):
                raise ConfigError(setting.name, f"must be {TYPE_NAMES[setting_type(setting)]}, got {value!r}")

    def _checks(self):
        """(setting, whether it is fine, what is wrong otherwise) for every setting."""
        return [
            ("family", self.family in FAMILIES, f"choose one of {', '.join(FAMILIES)}, got {self.family!r}"),
            ("data", self.data in DATASETS, f"choose one of {', '.join(DATASETS)}, got {self.data!r}"),
            ("batch_size", self.batch_size >= 1, f"must be positive, got {self.batch_size}"),
            ("latent_dim", 1 <= self.latent_dim <= MAX_LATENT_DIM, f"must be from 1 to {MAX_LATENT_DIM}, got {self.latent_dim}"),
            ("learning_rate", self.learning_rate is not None and 0 < self.learning_rate < 1,
             f"must be between 0 and 1, got {self.learning_rate}"),
            ("beta_1", 0 <= self.beta_1 < 1, f"must be in [0, 1), got {self.beta_1}"),
            ("label_smoothing", 0 <= self.label_smoothing < 0.5, f"must be in [0, 0.5), got {self.label_smoothing}"),
            ("generator_loss", self.generator_loss in GENERATOR_LOSSES,
             f"choose one of {', '.join(GENERATOR_LOSSES)}, got {self.generator_loss!r}"),
            ("seed", 0 <= self.seed <= MAX_SEED, f"must be from 0 to {MAX_SEED}, got {self.seed}"),
            ("ema_decay", 0 <= self.ema_decay < 1, f"must be in [0, 1), got {self.ema_decay}"),
            ("clusters", not self.clusters or self.family in CLUSTERED_TWINS,
             f"is for the unconditional models ({' and '.join(CLUSTERED_TWINS)}); {self.family} has labels"),
            ("clusters", self.clusters == 0 or 2 <= self.clusters <= MAX_CLUSTERS,
             f"must be 0 (off) or from 2 to {MAX_CLUSTERS}, got {self.clusters}"),
        ]

    def as_dict(self):
        """The settings as a plain dict, as checkpoints and run.json store them."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """The config that `as_dict` gave `values`, with checked values; a setting an older file lacks takes its default.

        The family must be there, and nothing but settings.
        """
        if not isinstance(values, dict):
            raise ConfigError("config", f"must be a dict of settings, got {type(values).__name__}")
        unknown = sorted(set(values) - {setting.name for setting in settings()})
        if unknown:
            raise ConfigError(unknown[0], "is not a setting of this version of ganutils")
        if "family" not in values:
            raise ConfigError("family", "is missing")
        return cls(**values)


def settings():
    """The fields of `TrainConfig`, with their defaults and help texts, in order."""
    return dataclasses.fields(TrainConfig)


def setting_type(setting):
    """The type of a setting's values: its default's (float for the learning rate, whose default is None)."""
    return float if setting.default is None else type(setting.default)


def option_name(setting_name):
    """The command line's option for a setting: `batch_size` is `--batch-size`."""
    return "--" + setting_name.replace("_", "-")


def is_of_type(value, kind):
    """Whether `value` is of type `kind` as JSON or a setting means it: a whole number is a number, True and False are neither."""
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, (int, float) if kind is float else kind)
