"""Data-parallel runs beside one-device runs, for test_data_parallel.py: run as a script under JAX with virtual devices.

`python data_parallel_checks.py equal FAMILY... | resume | cli DATA_DIR OUT` prints one JSON object.
"""

import json
import sys

import keras
import numpy as np

from ganutils import checkpoints, cli
from ganutils.config import TrainConfig
from ganutils.models import build_models
from ganutils.training import GANTrainer, prepare_run

BATCH = 8
STEPS = 3


def trainer_for(family, devices):
    """A freshly seeded trainer of `family` on `devices` devices, which notes the distribution each step ran under."""
    config = TrainConfig(family=family, batch_size=BATCH, seed=3)
    prepare_run(config)
    trainer = GANTrainer(*build_models(family, config.latent_dim), config, devices=devices)
    trainer.step_distributions = []
    train_on_batch = trainer.gan.train_on_batch

    def noting_train_on_batch(*args, **kwargs):
        trainer.step_distributions.append(keras.distribution.distribution())
        return train_on_batch(*args, **kwargs)

    trainer.gan.train_on_batch = noting_train_on_batch
    return trainer


def training_data():
    rng = np.random.default_rng(1)
    return rng.uniform(-1, 1, (3 * BATCH, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 3 * BATCH).astype(np.int32)


def state_of(trainer):
    """Every checkpointed array of a trainer (weights, batch statistics, the average, optimizer states), by name."""
    return {name: keras.ops.convert_to_numpy(variable) for name, variable in checkpoints.checkpoint_variables(trainer).items()}


def largest_difference(first, second):
    """The largest absolute difference between two states' float arrays, and the name where it is."""
    differences = {name: float(np.max(np.abs(first[name] - second[name]), initial=0.0))
                   for name in first if first[name].dtype.kind == "f"}
    name = max(differences, key=differences.get)
    return differences[name], name


def compare(one, several):
    """How far a run on several devices ended from the same run on one."""
    losses = [abs(a[key] - b[key]) for a, b in zip(one.history, several.history) for key in ("d_loss", "g_loss")]
    difference, where = largest_difference(state_of(one), state_of(several))
    first_weight = several.gan.generator.weights[0].value
    split = [0 if distribution is None else distribution.device_mesh.devices.size for distribution in several.step_distributions]
    return {"weights": difference, "where": where, "losses": max(losses), "steps": [len(one.history), len(several.history)],
            "devices_of_steps": split, "distribution_after": keras.distribution.distribution() is not None,
            "devices": several.devices, "weight_on_devices": len(first_weight.sharding.device_set),
            "state_names_equal": sorted(state_of(one)) == sorted(state_of(several))}


def equal(families):
    """STEPS steps of each family on one device and on all of them, from the same seed and batches."""
    images, labels = training_data()
    results = {}
    for family in families:
        one, several = trainer_for(family, 1), trainer_for(family, "all")
        for trainer in (one, several):
            trainer.fit(images, labels, steps=STEPS, verbose=0)
        results[family] = compare(one, several)
        results[family]["sampled_after"] = len(several.sampling_generator.predict(np.zeros((7, 100)) if family in ("gan", "dcgan")
                                                  else [np.zeros((7, 100)), np.zeros(7, np.int32)], verbose=0))
    return results


def resume(folder):
    """Two steps on all devices, a checkpoint resumed for one step on one device, and back, against four steps on one."""
    images, labels = training_data()
    straight = trainer_for("cgan", 1)
    straight.fit(images, labels, steps=4, verbose=0)
    path = f"{folder}/checkpoint.npz"
    trainer = trainer_for("cgan", "all")
    trainer.fit(images, labels, steps=2, verbose=0)
    for devices, steps in ((1, 3), ("all", 4)):
        trainer.save_checkpoint(path)
        trainer = trainer_for("cgan", devices)
        trainer.restore_checkpoint(path)
        trainer.fit(images, labels, steps=steps, verbose=0)
    return compare(straight, trainer)


def command_line(data_dir, out):
    """`ganutils train` on all devices, an uneven split refused, then a resume on one device: statuses and run.json."""
    common = ["train", "gan", "--data-dir", data_dir, "--out", out, "--quiet"]
    first = cli.main([*common, "--steps", "2", "--batch-size", "16", "--devices", "all"])
    with open(f"{out}/run.json") as stream:
        devices_first = json.load(stream)["devices"]
    uneven = cli.main([*common[:-3], "--out", f"{out}-uneven", "--steps", "2", "--batch-size", "15", "--devices", "all"])
    resumed = cli.main([*common, "--steps", "3", "--resume"])
    with open(f"{out}/run.json") as stream:
        summary = json.load(stream)
    return {"statuses": [first, uneven, resumed], "devices": [devices_first, summary["devices"]], "steps": summary["steps"]}


if __name__ == "__main__":
    check, arguments = sys.argv[1], sys.argv[2:]
    result = {"equal": lambda: equal(arguments), "resume": lambda: resume(*arguments),
              "cli": lambda: command_line(*arguments)}[check]()
    print(json.dumps(result))
