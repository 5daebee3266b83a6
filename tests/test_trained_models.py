"""The generators shipped in trained_models/: they load, sample, and measure as the README says."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ganutils.config import SHIPPED_MODELS
from ganutils.evaluate import evaluate_generator
from ganutils.sampling import load_generator, sample_images

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "trained_models"
MODELS = tuple(SHIPPED_MODELS)


def test_every_lessons_generator_ships_and_they_stay_small():
    assert sorted(path.name for path in FOLDER.glob("*.keras")) == sorted(f"{model}.keras" for model in MODELS)
    sizes = [(FOLDER / f"{model}.keras").stat().st_size for model in MODELS]
    assert sum(sizes) < 25_000_000  # under 25 MB, not only 25 MiB


@pytest.mark.parametrize("model", MODELS)
def test_recorded_figures_are_reproduced(model):
    recorded = json.loads((FOLDER / f"{model}.metrics.json").read_text())
    generator = load_generator(FOLDER / f"{model}.keras")
    results = evaluate_generator(generator, n=recorded["generated"]["n"], seed=0)
    same_real_digits = results["real_source"].split(" (")[0] == recorded["real_source"].split(" (")[0]
    for side in ("generated", "real") if same_real_digits else ("generated",):
        for key, value in recorded[side].items():
            assert results[side][key] == pytest.approx(value, rel=1e-3, abs=1e-3), (side, key)


def test_sampling_a_chosen_digit_works_without_training():
    images, labels = sample_images(load_generator(FOLDER / "cdcgan.keras"), 16, label=7)
    assert images.shape == (16, 28, 28) and labels.tolist() == [7] * 16


def test_readme_table_is_the_recorded_figures():
    table = subprocess.run([sys.executable, str(ROOT / "scripts" / "results_table.py")],
                           capture_output=True, text=True, check=True).stdout
    assert table.strip() in (ROOT / "README.md").read_text()
