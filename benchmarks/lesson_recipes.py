"""A lesson's training recipe measured as it trains: quality of the sampled generator and of G, time, budget and memorisation.

Trains one family's recipe (the lessons' settings, with any changes given by --set) on the
MNIST training digits this machine has, once per seed, and every --every steps prints, for the
generator the course samples (the weight average, if the recipe keeps one) and for G itself,
the course's evaluator figures (N = --n, real digits at the same N beside; with --draws K, each
the median over K draws of noise and real digits); the training
seconds so far; the budget ratio, those seconds divided by the time of one step of TensorFlow's
DCGAN tutorial at batch 128 timed in the same run (a lesson may cost 3,000 of them, lesson 3
4,500); and D's memorisation: the share of training digits D calls real against the share of
held-out digits it calls real (MNIST's test split, from --held-out-dir). With several seeds, the
last lines give each figure's median.

The recipe is the lesson's (`ganutils.config.RECIPES`, steps included); `--set clusters=100`
gives lesson 3's self-conditioned recipe. At the end of each seed's run it prints the copying
ratio of the sampled generator (`evaluate.copying_ratio`), beside held-out real digits'.

    python benchmarks/lesson_recipes.py cdcgan --steps 6000 --every 500 --seeds 42 0 1
    python benchmarks/lesson_recipes.py cdcgan --set ema_decay=0.99 max_shift=0
    python benchmarks/lesson_recipes.py dcgan --set clusters=100 --draws 5
"""

import argparse
import statistics
import time
from pathlib import Path

import keras
import numpy as np
from keras import layers
from shipped_models import held_out_sets

from ganutils.config import FAMILIES, SEED, TrainConfig, setting_type, settings
from ganutils.data import DataError, cluster_images, cluster_shares, load_dataset
from ganutils.evaluate import copying_ratio, digit_shares, evaluate_generator, generator_samples
from ganutils.models import build_config_models, is_conditional, with_cluster_code
from ganutils.training import GANTrainer, training_device

TUTORIAL_BATCH = 128
TUTORIAL_STEPS = 30  # timed, after 5 untimed
MEMORISATION_DIGITS = 1_000
EVALUATION_SEED = 123  # the first draw's noise and real digits
FIGURES = ("classifier_score", "frechet_distance", "conditional_accuracy")
DEFAULT_HELD_OUT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"


def tutorial_models():
    """The generator and discriminator of TensorFlow's DCGAN tutorial, as its text describes them."""
    generator = keras.Sequential([
        keras.Input((100,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
    ])
    discriminator = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1),
    ])
    return generator, discriminator


def tutorial_step_seconds(images):
    """Seconds of one step of the tutorial's training step (two tapes in one tf.function) at batch 128."""
    import tensorflow as tf

    generator, discriminator = tutorial_models()
    g_optimizer, d_optimizer = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def step(real):
        noise = tf.random.normal((TUTORIAL_BATCH, 100))
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(noise, training=True)
            real_logits, fake_logits = discriminator(real, training=True), discriminator(fake, training=True)
            g_loss = cross_entropy(tf.ones_like(fake_logits), fake_logits)
            d_loss = cross_entropy(tf.ones_like(real_logits), real_logits) + cross_entropy(tf.zeros_like(fake_logits), fake_logits)
        g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables))
        d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables),
                                        discriminator.trainable_variables))

    rng = np.random.default_rng(0)
    batches = [images[rng.integers(0, len(images), TUTORIAL_BATCH)] for _ in range(TUTORIAL_STEPS + 5)]
    for batch in batches[:5]:
        step(batch)
    started = time.perf_counter()
    for batch in batches[5:]:
        step(batch)
    return (time.perf_counter() - started) / TUTORIAL_STEPS


def parse_settings(pairs):
    """`name=value` pairs as TrainConfig settings of the right type."""
    types = {setting.name: setting_type(setting) for setting in settings()}
    changes = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in types:
            raise SystemExit(f"--set: {name!r} is not a TrainConfig setting")
        kind = types[name]
        changes[name] = text.lower() in ("1", "true", "yes") if kind is bool else kind(text)
    return changes


def models_and_labels(config, real):
    """The models, training labels, and the (sampled, G) generators to judge, as `ganutils train` builds them."""
    trainer = GANTrainer(*build_config_models(config), config)
    if not config.clusters:
        return trainer, real.labels, (trainer.sampling_generator, trainer.generator)
    cluster_of_image = cluster_images(real.images, config.clusters, config.seed)
    shares = cluster_shares(cluster_of_image, config.clusters)
    judged = (with_cluster_code(trainer.sampling_generator, shares), with_cluster_code(trainer.generator, shares))
    return trainer, cluster_of_image, judged


def share_called_real(trainer, images, labels):
    """The share of `images` that D, in inference mode, scores as real (a positive logit)."""
    inputs = [images, labels] if trainer.conditional else images
    logits = keras.ops.convert_to_numpy(trainer.discriminator.predict(inputs, batch_size=500, verbose=0))
    return float(np.mean(logits > 0))


def memorisation(trainer, real, labels, held_out):
    """(training digits D calls real, held-out digits D calls real), or None without held-out digits or with clusters."""
    if held_out is None or trainer.config.clusters:
        return None
    picked = np.random.default_rng(1).choice(len(real.images), MEMORISATION_DIGITS, replace=False)
    return (share_called_real(trainer, real.images[picked], labels[picked]),
            share_called_real(trainer, held_out.images[:MEMORISATION_DIGITS], held_out.labels[:MEMORISATION_DIGITS]))


def copying(generator, real, held_out):
    """(the generator's copying ratio, held-out real digits'), or None without enough held-out digits."""
    if held_out is None or len(held_out.images) < len(real.images) + MEMORISATION_DIGITS:
        return None
    reference, unseen = held_out_sets(held_out, len(real.images))
    samples, _ = generator_samples(generator, MEMORISATION_DIGITS)
    return copying_ratio(samples, real.images, reference), copying_ratio(unseen, real.images, reference)


def digit_range(generator, n):
    """For a generator without a label input, the smallest and largest share of its samples the judge reads as one digit, in words."""
    if is_conditional(generator):
        return ""
    shares = digit_shares(generator_samples(generator, n, seed=EVALUATION_SEED)[0])
    return f", digits {shares.min():.1%} to {shares.max():.1%}"


def judged(generator, n, draws, real):
    """The evaluator's figures for `generator`, each the median over `draws` draws of noise and real digits (seeds 123, 124, ...)."""
    runs = [evaluate_generator(generator, n=n, seed=EVALUATION_SEED + draw, real=real) for draw in range(draws)]
    return {side: {key: statistics.median(run[side][key] for run in runs) for key in runs[0][side]}
            for side in ("generated", "real")}


def figures_line(name, results):
    generated, real = results["generated"], results["real"]
    parts = [f"{key.split('_')[0]} {generated[key]:.3g} ({real[key]:.3g})" for key in FIGURES if key in generated]
    return f"{name}: " + ", ".join(parts)


def train_recipe(family, changes, seed, steps, every, n, draws, real, held_out, tutorial_seconds):
    """Train one recipe for one seed, printing its figures every `every` steps; returns the last figures."""
    keras.utils.set_random_seed(seed)
    config = TrainConfig(family=family, seed=seed, **changes)
    trainer, labels, (sampled, generator) = models_and_labels(config, real)
    steps = steps or config.recipe_steps
    print(f"{family}, seed {seed}, {steps} steps: {config.as_dict()}", flush=True)
    seconds, last = 0.0, {}
    while trainer.step < steps:
        started = time.perf_counter()
        trainer.fit(real.images, labels, steps=min(trainer.step + every, steps), verbose=0)
        seconds += time.perf_counter() - started
        last = {"sampled": judged(sampled, n, draws, real), "G": judged(generator, n, draws, real)}
        remembered = memorisation(trainer, real, labels, held_out)
        spread = digit_range(sampled, n)
        memory = "n/a" if remembered is None else f"{remembered[0]:.2f} of training digits, {remembered[1]:.2f} of held-out"
        print(f"step {trainer.step:>6}, {seconds:7.1f} s, budget ratio {seconds / tutorial_seconds:6.0f} | "
              f"{figures_line('sampled', last['sampled'])}{spread} | {figures_line('G', last['G'])} | D calls real: {memory}", flush=True)
    copied = copying(sampled, real, held_out)
    if copied:
        print(f"copying ratio of the sampled generator {copied[0]:.3f} (held-out real digits {copied[1]:.3f})", flush=True)
    return {**{f"sampled {key}": last["sampled"]["generated"][key] for key in FIGURES if key in last["sampled"]["generated"]},
            **{f"G {key}": last["G"]["generated"][key] for key in FIGURES if key in last["G"]["generated"]},
            **{f"real {key}": last["G"]["real"][key] for key in FIGURES if key in last["G"]["real"]},
            "budget ratio": seconds / tutorial_seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("--steps", type=int, help="training steps (default: the recipe's)")
    parser.add_argument("--every", type=int, default=500, help="steps between measurements (default 500)")
    parser.add_argument("--n", type=int, default=1000, help="samples per measurement (default 1000)")
    parser.add_argument("--draws", type=int, default=1,
                        help="draws of noise and real digits per measurement, each figure their median (default 1)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[SEED])
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="TrainConfig settings to change")
    parser.add_argument("--data-dir", help="directory with the training digits (default: the first source that works)")
    parser.add_argument("--held-out-dir", type=Path, default=DEFAULT_HELD_OUT, help="MNIST's test split, for memorisation")
    args = parser.parse_args()
    real = load_dataset("mnist", data_dir=args.data_dir)
    try:
        held_out = load_dataset("mnist", "test", data_dir=args.held_out_dir, verbose=False) if args.held_out_dir.is_dir() else None
    except DataError:
        held_out = None
    tutorial_seconds = tutorial_step_seconds(real.images)
    print(f"Training on {training_device()}; TensorFlow's tutorial DCGAN step at batch {TUTORIAL_BATCH}: "
          f"{1000 * tutorial_seconds:.1f} ms, timed now", flush=True)
    finals = [train_recipe(args.family, parse_settings(args.set), seed, args.steps, args.every, args.n, args.draws, real, held_out,
                           tutorial_seconds) for seed in args.seeds]
    if len(finals) > 1:
        for key in finals[0]:
            print(f"median of {len(finals)} seeds, {key}: {statistics.median(final[key] for final in finals):.4g}")


if __name__ == "__main__":
    main()
