"""Data-parallel training (Keras' distribution API, on JAX): the same steps as on one device, and refusals elsewhere.

The runs on several devices use virtual CPU devices (XLA's host platform device count) in a
subprocess, since JAX counts its devices once, when it starts.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from ganutils.config import TrainConfig
from ganutils.devices import DevicesError, data_parallel, describe_devices, gpu_names
from ganutils.models import build_mlp_discriminator, build_mlp_generator
from ganutils.training import GANTrainer

CHECKS = Path(__file__).with_name("data_parallel_checks.py")
DEVICES = 2
WEIGHT_TOLERANCE = 1e-5  # float32 sums in another order; one step of Adam at 1e-3 moves a weight by up to 1e-3
LOSS_TOLERANCE = 1e-5

needs_jax = pytest.mark.skipif(keras.backend.backend() != "jax" or importlib.util.find_spec("jax") is None,
                               reason="data parallel trains on JAX only; make test runs this in its JAX pass")


def run_checks(*arguments, devices=DEVICES):
    """Run data_parallel_checks.py on `devices` virtual CPU devices; returns what it prints."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
           "PYTHONPATH": os.pathsep.join([str(CHECKS.parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, CHECKS, *map(str, arguments)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_same_run(result):
    assert result["devices"] == DEVICES and result["weight_on_devices"] == DEVICES
    assert result["state_names_equal"] and result["steps"][0] == result["steps"][1]
    assert set(result["devices_of_steps"]) == {DEVICES}  # each step's batch split by a DataParallel over the devices
    assert not result["distribution_after"]  # sampling runs outside it
    assert result["weights"] < WEIGHT_TOLERANCE, f"{result['where']} differs by {result['weights']}"
    assert result["losses"] < LOSS_TOLERANCE


@needs_jax
@pytest.mark.parametrize("families", [("cgan", "cdcgan"), ("gan", "dcgan")])
def test_steps_on_two_devices_equal_steps_on_one(families):
    """Weights, batch statistics (G's batch norm sees the global batch), the average, optimizer states and losses."""
    results = run_checks("equal", *families)
    for family in families:
        assert_same_run(results[family])
        assert results[family]["sampled_after"] == 7  # a batch that 2 devices do not divide, sampled after training


@needs_jax
def test_a_data_parallel_checkpoint_resumes_on_one_device_and_back(tmp_path):
    assert_same_run(run_checks("resume", tmp_path))


@needs_jax
def test_command_line_trains_on_all_devices_refuses_an_uneven_split_and_resumes_on_one(idx_dir, tmp_path):
    result = run_checks("cli", idx_dir, tmp_path / "run")
    assert result["statuses"] == [0, 2, 0]
    assert result["devices"] == [DEVICES, 1] and result["steps"] == 3
    assert not (tmp_path / "run-uneven").exists()


def test_one_device_is_no_distribution():
    assert data_parallel(1, batch_size=7) is None


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="JAX trains on several devices")
def test_other_backends_refuse_several_devices_in_one_line():
    with pytest.raises(DevicesError, match=f"needs Keras' jax backend .*does not train on {keras.backend.backend()}$"):
        GANTrainer(build_mlp_generator(latent_dim=8, hidden_units=(8,)), build_mlp_discriminator(hidden_units=(8,)),
                   TrainConfig(family="gan", batch_size=4, latent_dim=8), devices=2)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the count is checked on JAX, which trains on several devices")
def test_more_devices_than_the_backend_sees_are_refused():
    with pytest.raises(DevicesError, match="devices asked for, but jax sees"):
        data_parallel(len(keras.distribution.list_devices()) + 1, batch_size=64)


@pytest.mark.skipif(bool(gpu_names()), reason="this machine has a GPU")
def test_the_environment_line_names_the_processor():
    assert describe_devices() == f"CPU ({keras.backend.backend()} sees no GPU)"
    assert describe_devices(2) == f"2 CPU devices ({keras.backend.backend()} sees no GPU)"
