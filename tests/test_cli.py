"""The command line: a short training run end to end, resume, sampling, and every bad input."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from ganutils import cli
from ganutils.models import build_dcgan_generator, build_mlp_generator
from ganutils.sampling import load_generator, sample_images

REPOSITORY = Path(__file__).resolve().parents[1]
# PYTHONPATH: the processes run this checkout's ganutils from any folder, not a copy installed elsewhere
QUIET_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPOSITORY)}


def ganutils(*args, cwd=None, backend=None):
    """Run `python -m ganutils ARGS` in a fresh process, as a user would (on another Keras backend if given)."""
    env = QUIET_ENV if backend is None else {**QUIET_ENV, "KERAS_BACKEND": backend}
    return subprocess.run(
        [sys.executable, "-m", "ganutils", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganutils: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def generators(tmp_path_factory):
    """Small untrained generators saved as .keras: one conditional, one not."""
    folder = tmp_path_factory.mktemp("generators")
    conditional = build_dcgan_generator(num_classes=10, filters=(8, 4))
    unconditional = build_mlp_generator(hidden_units=(8,))
    conditional.save(folder / "conditional.keras")
    unconditional.save(folder / "unconditional.keras")
    return folder / "conditional.keras", folder / "unconditional.keras"


def test_train_writes_every_output_then_resumes(idx_dir, tmp_path):
    out = tmp_path / "run"
    result = ganutils("train", "cgan", "--steps", 6, "--batch-size", 16, "--data-dir", idx_dir, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    first_seconds = json.loads((out / "run.json").read_text())["seconds"]
    assert f"64 images from IDX files in {idx_dir}" in result.stdout
    assert "Training cgan on CPU" in result.stdout or "Training cgan on GPU" in result.stdout
    for name in ("generator.keras", "discriminator.keras", "history.csv", "history.json", "losses.png",
                 "training.gif", "checkpoint.npz", "run.json"):
        assert (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in (out / "evaluation_images").iterdir()) == [f"{d}.png" for d in range(10)]
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == [f"step_{step:07d}.png" for step in range(1, 7)]
    assert len((out / "history.csv").read_text().splitlines()) == 1 + 6
    saved_discriminator = keras.models.load_model(out / "discriminator.keras")
    assert saved_discriminator.trainable and saved_discriminator.trainable_weights
    saved_generator = keras.models.load_model(out / "generator.keras").get_weights()
    with np.load(out / "checkpoint.npz") as checkpoint:  # the saved generator is the average of G's weights
        assert all(np.array_equal(w, checkpoint[f"average/{i}"]) for i, w in enumerate(saved_generator))
        assert not all(np.array_equal(w, checkpoint[f"generator/{i}"]) for i, w in enumerate(saved_generator))

    resumed = ganutils("train", "cgan", "--steps", 10, "--data-dir", idx_dir, "--out", out, "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from step 6" in resumed.stdout
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history["per_step"]] == list(range(1, 11))
    assert [e["epoch"] for e in history["per_epoch"]] == [1, 2, 3]
    summary = json.loads((out / "run.json").read_text())
    assert summary["steps"] == 10 and summary["steps_this_session"] == 4
    assert summary["seconds"] == pytest.approx(first_seconds + summary["seconds_this_session"], abs=0.11)
    assert summary["config"]["batch_size"] == 16  # from the checkpoint, not the default

    wrong_model = ganutils("train", "gan", "--data-dir", idx_dir, "--out", out, "--resume")
    assert_one_line_error(wrong_model, "belongs to a cgan run")


def test_a_self_conditioned_run_from_before_label_input_resumes_with_its_planes(idx_dir, tmp_path):
    out = tmp_path / "run"
    first = ganutils("train", "dcgan", "--clusters", 4, "--label-input", "one_hot", "--steps", 2, "--batch-size", 16,
                     "--data-dir", idx_dir, "--out", out, "--quiet")
    assert first.returncode == 0, first.stderr
    with np.load(out / "checkpoint.npz") as archive:
        arrays = dict(archive)
    state = json.loads(arrays["state"].tobytes())
    del state["config"]["label_input"]  # as a checkpoint written before the setting
    arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    np.savez(out / "checkpoint.npz", **arrays)
    resumed = ganutils("train", "dcgan", "--clusters", 4, "--steps", 3, "--data-dir", idx_dir, "--out", out, "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "run.json").read_text())
    assert summary["steps"] == 3 and summary["config"]["label_input"] == "one_hot"


def test_self_conditioned_run_saves_a_generator_that_takes_noise_alone(idx_dir, tmp_path):
    out = tmp_path / "run"
    result = ganutils("train", "dcgan", "--clusters", 4, "--steps", 4, "--batch-size", 16, "--data-dir", idx_dir,
                      "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Self-conditioning on 4 k-means clusters" in result.stdout
    assert json.loads((out / "run.json").read_text())["config"]["clusters"] == 4
    generator = keras.models.load_model(out / "generator.keras")
    assert len(generator.inputs) == 1 and generator.get_layer("cluster_code").num_clusters == 4
    assert sorted(p.name for p in (out / "evaluation_images").iterdir()) == ["samples.png"]
    sampled = ganutils("sample", out / "generator.keras", "--n", 8, "--out", tmp_path / "x.npz")
    assert sampled.returncode == 0, sampled.stderr
    with np.load(tmp_path / "x.npz") as arrays:
        assert arrays["images"].shape == (8, 28, 28) and "labels" not in arrays


def test_mixed_precision_run_trains_and_samples(idx_dir, tmp_path):
    out = tmp_path / "run"
    result = ganutils("train", "cdcgan", "--steps", 2, "--batch-size", 8, "--mixed-precision",
                      "--data-dir", idx_dir, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "run.json").read_text())["config"]["mixed_precision"] is True
    generator = keras.models.load_model(out / "generator.keras", compile=False)
    assert generator.layers[-1].dtype_policy.name == "mixed_float16"  # float16 maths, float32 weights
    assert ganutils("sample", out / "generator.keras", "--n", 3, "--out", tmp_path / "x.npz").returncode == 0
    with np.load(tmp_path / "x.npz") as arrays:
        assert arrays["images"].dtype == np.float32 and np.isfinite(arrays["images"]).all()


def test_sample_npz_from_a_conditional_generator(generators, tmp_path):
    out = tmp_path / "sevens.npz"
    result = ganutils("sample", generators[0], "--n", 12, "--label", 7, "--out", out)
    assert result.returncode == 0, result.stderr
    with np.load(out) as arrays:
        assert arrays["images"].shape == (12, 28, 28) and arrays["images"].dtype == np.float32
        assert 0.0 <= arrays["images"].min() and arrays["images"].max() <= 1.0
        assert arrays["labels"].tolist() == [7] * 12


def test_sample_png_grid_and_unconditional_npz(generators, tmp_path):
    assert ganutils("sample", generators[0], "--n", 20, "--out", tmp_path / "grid.png").returncode == 0
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ganutils("sample", generators[1], "--n", 3, "--out", tmp_path / "x.npz").returncode == 0
    with np.load(tmp_path / "x.npz") as arrays:
        assert set(arrays.files) == {"images"} and arrays["images"].shape == (3, 28, 28)


OTHER_BACKENDS = [name for name in ("tensorflow", "jax", "torch")
                  if name != keras.backend.backend() and importlib.util.find_spec(name)]


@pytest.mark.skipif(not OTHER_BACKENDS, reason="no other Keras backend is installed")
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_a_generator_saved_on_this_backend_samples_the_same_on_another(generators, tmp_path, backend):
    result = ganutils("sample", generators[0], "--n", 10, "--label", 3, "--out", tmp_path / "x.npz", backend=backend)
    assert result.returncode == 0, result.stderr
    here, _ = sample_images(load_generator(generators[0]), 10, label=3)
    with np.load(tmp_path / "x.npz") as arrays:
        np.testing.assert_allclose(arrays["images"], here, atol=1e-4)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["train", "wgan"], ["invalid choice: 'wgan'"]),
        (["train", "gan", "--steps", "0"], ["positive whole number"]),
        (["train", "gan", "--steps", "5", "--epochs", "2"], ["not allowed with"]),
        (["train", "gan", "--label-smoothing", "0.7"], ["[0, 0.5)"]),
        (["train", "gan", "--learning-rate", "0"], ["between 0 and 1, got 0.0"]),
        (["train", "gan", "--ema-decay", "1"], ["--ema-decay must be in [0, 1), got 1.0"]),
        (["train", "gan", "--learning-rate", "fast"], ["invalid float value: 'fast'"]),
        (["train", "gan", "--data-dir", "nowhere"], ["nowhere is not a directory"]),
        (["train", "cdcgan", "--clusters", "10"], ["--clusters is for the unconditional models", "cdcgan has labels"]),
        (["train", "dcgan", "--clusters", "1"], ["--clusters must be 0 (off) or from 2 to 1000, got 1"]),
        (["sample", "G.keras", "--n", "4", "--label", "12", "--out", "x.npz"], ["digit from 0 to 9, got '12'"]),
        (["sample", "G.keras", "--n", "-3", "--out", "x.npz"], ["positive whole number, got -3"]),
        (["sample", "G.keras", "--n", "0", "--out", "x.npz"], ["positive whole number, got 0"]),
        (["sample", "missing.keras", "--n", "4", "--out", "x.npz"], ["missing.keras: no such model file"]),
        (["sample", "G.keras", "--n", "4", "--out", "x.jpg"], [".npz or .png"]),
        (["sample", "G.keras", "--n", "4", "--out", "no/such/dir/x.npz"], ["does not exist"]),
        (["sample", "G.keras", "--n", "4", "--out", "G.keras/x.npz"], ["does not exist"]),
        (["evaluate", "G.keras", "--n", "1"], ["at least 2, got 1"]),
        (["evaluate", "G.keras", "--json", "out.txt"], ["must end in .json"]),
        (["evaluate", "G.keras", "--json", "no/such/dir/out.json"], ["does not exist"]),
        (["evaluate", "missing.keras"], ["missing.keras: no such model file"]),
        (["evaluate", "G.keras", "--n", "100000"], ["only 5,000 real digits"]),
        (["sample", "G.keras", "--n", "1e9", "--out", "x.npz"], ["positive whole number, got '1e9'"]),
        (["sample", "G.keras", "--n", "1000000000", "--out", "x.npz"], ["at most 100,000 images, got 1,000,000,000"]),
        (["sample", "G.keras", "--n", "20000", "--out", "x.png"], ["a .png grid holds at most 10,000 images, got 20,000"]),
        (["evaluate", "G.keras", "--n", "100001"], ["at most 100,000 images, got 100,001"]),
        (["train", "gan", "--resume", "--overwrite"], ["argument --overwrite: not allowed with argument --resume"]),
        (["train", "gan", "--seed", "-1", "--out", "new"], ["--seed must be from 0 to 4294967295, got -1"]),
        (["sample", "G.keras", "--n", "4", "--seed", "-1", "--out", "x.npz"],
         ["argument --seed: expected a whole number from 0 to 4294967295, got '-1'"]),
        (["evaluate", "G.keras", "--seed", "seven"], ["argument --seed: expected a whole number from 0 to 4294967295, got 'seven'"]),
        (["train", "gan", "--out", ""], ["argument --out: expected a path, got an empty one"]),
        (["train", "gan", "--data-dir", " "], ["argument --data-dir: expected a path, got an empty one"]),
        (["evaluate", "G.keras", "--data-dir", ""], ["argument --data-dir: expected a path, got an empty one"]),
    ],
)
def test_bad_input_is_one_line_with_no_output(args, fragments, generators, tmp_path):
    (tmp_path / "G.keras").write_bytes(generators[0].read_bytes())
    before = sorted(tmp_path.rglob("*"))
    assert_one_line_error(ganutils(*args, cwd=tmp_path), *fragments)
    assert sorted(tmp_path.rglob("*")) == before


def ganutils_without_keras(*args, cwd=None):
    """Run the command line in a fresh process that fails if it imported Keras: for the checks made before it loads."""
    script = "import sys; from ganutils.cli import main; status = main(sys.argv[1:]); assert 'keras' not in sys.modules; sys.exit(status)"
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, env=QUIET_ENV, cwd=cwd)


def test_bad_seeds_and_empty_paths_are_refused_before_keras_loads(tmp_path):
    for args in (["sample", "G.keras", "--n", 4, "--seed", -1, "--out", "x.npz"], ["train", "gan", "--out", ""]):
        result = ganutils_without_keras(*args, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_backend_that_is_not_installed_is_named_with_its_install_command(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "jax.py").write_text("raise ModuleNotFoundError(\"No module named 'jax'\", name='jax')\n")
    env = {**QUIET_ENV, "KERAS_BACKEND": "jax", "PYTHONPATH": os.pathsep.join([str(blocker), str(REPOSITORY)])}
    result = subprocess.run([sys.executable, "-m", "ganutils", "train", "gan", "--steps", "1", "--out", "run"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert_one_line_error(result, "Keras' jax backend (KERAS_BACKEND, or ~/.keras/keras.json) is not installed: "
                                  'pip install "ganutils[jax]"')
    assert not (tmp_path / "run").exists()


def test_train_refuses_a_folder_holding_a_run_or_in_use_before_keras_loads(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"an earlier run")
    result = ganutils_without_keras("train", "gan", "--out", tmp_path)
    assert_one_line_error(result, f"{tmp_path} holds a training run already: continue it with --resume, or replace it with --overwrite")
    (tmp_path / "ganutils.lock").write_text(f"{os.getpid()}\n")  # this test's process: alive, and not the command's
    result = ganutils_without_keras("train", "gan", "--out", tmp_path, "--overwrite")
    assert_one_line_error(result, f"{tmp_path} is in use by another training run (process {os.getpid()})")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "ganutils.lock"]
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"an earlier run"


def test_a_model_file_that_unpacks_too_large_is_refused_before_keras_loads(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "bomb.keras", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b" " * 50_000_000)
    result = ganutils_without_keras("sample", tmp_path / "bomb.keras", "--n", 4, "--out", tmp_path / "x.npz")
    assert_one_line_error(result, f"{tmp_path / 'bomb.keras'}: its config.json unpacks to 50,000,000 bytes")
    assert not (tmp_path / "x.npz").exists()


def test_evaluate_prints_generated_and_real_figures_and_writes_json(generators, tmp_path):
    out = tmp_path / "figures.json"
    result = ganutils("evaluate", generators[0], "--n", 40, "--json", out)
    assert result.returncode == 0, result.stderr
    assert "judge: CNN trained on 10,000 MNIST test digits" in result.stdout
    for row in ("classifier score (N=40, max 10)", "Fréchet distance", "conditional accuracy", "cross-entropy"):
        assert row in result.stdout
    figures = json.loads(out.read_text())
    assert figures["generated"]["n"] == figures["real"]["n"] == 40
    assert figures["real"]["conditional_accuracy"] > 0.9  # real digits, read by the judge
    assert figures["generated"]["frechet_distance"] > figures["real"]["frechet_distance"]  # untrained G
    unconditional = ganutils("evaluate", generators[1], "--n", 40)
    assert unconditional.returncode == 0 and "conditional accuracy" not in unconditional.stdout


def test_corrupt_model_files_are_one_line_errors(generators, tmp_path):
    not_a_zip = tmp_path / "noise.keras"
    not_a_zip.write_bytes(os.urandom(2000))
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(generators[0].read_bytes()[:5000])
    for path in (not_a_zip, truncated):
        result = ganutils("sample", path, "--n", 4, "--out", tmp_path / "x.npz")
        assert_one_line_error(result, path.name)
        assert not (tmp_path / "x.npz").exists()


def test_label_for_unconditional_generator_is_refused(generators, tmp_path):
    result = ganutils("sample", generators[1], "--n", 4, "--label", 3, "--out", tmp_path / "x.npz")
    assert_one_line_error(result, "unconditional generator")
    assert not (tmp_path / "x.npz").exists()


def test_resume_without_checkpoint_is_an_error(tmp_path):
    assert_one_line_error(ganutils("train", "dcgan", "--out", tmp_path, "--resume"), "no checkpoint.npz")


def test_unwritable_output_leaves_no_partial_file(generators, tmp_path):
    target = tmp_path / "taken.npz"
    target.mkdir()  # a directory where the file should go: the final rename must fail
    assert_one_line_error(ganutils("sample", generators[0], "--n", 2, "--out", target), "is a directory")
    assert [p.name for p in tmp_path.iterdir()] == ["taken.npz"]


def test_every_training_setting_reaches_the_config_from_its_option():
    """`train`'s options are made from TrainConfig's fields: each option's value lands in its field."""
    from ganutils.config import TrainConfig, settings

    arguments = _train_parser().parse_args(["gan"])
    assert cli._train_config(arguments) == TrainConfig(family="gan")  # the defaults are the config's
    changed = ["dcgan", "--data", "fashion_mnist", "--batch-size", "7", "--latent-dim", "9", "--learning-rate", "0.01",
               "--beta-1", "0.6", "--label-smoothing", "0.2", "--generator-loss", "minimax", "--alternating",
               "--real-and-fake-together", "--seed", "5", "--mixed-precision", "--ema-decay", "0.5", "--clusters", "3"]
    config = cli._train_config(_train_parser().parse_args(changed))
    unchanged = [s.name for s in settings() if getattr(config, s.name) == getattr(TrainConfig(family="gan"), s.name)]
    assert unchanged == [], "settings the command line cannot change"


def _train_parser():
    from ganutils.cli import build_parser

    subcommands = next(action for action in build_parser()._actions if action.dest == "command")
    return subcommands.choices["train"]
