"""One recipe per lesson, written once: the lessons' settings cells, the command line's defaults and the shipped run records agree."""

import json
from pathlib import Path

import pytest

from ganutils import course, training
from ganutils.config import FAMILIES, SELF_CONDITIONING_CLUSTERS, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
LESSONS = {"gan": "01_gan", "cgan": "02_cgan", "dcgan": "03_dcgan", "cdcgan": "04_cdcgan"}
SHIPPED = {"gan": ("gan", 0), "cgan": ("cgan", 0), "dcgan": ("dcgan", 0),  # each shipped generator's family and clusters
           "dcgan_self_conditioned": ("dcgan", SELF_CONDITIONING_CLUSTERS), "cdcgan": ("cdcgan", 0)}


def _cell_defining(lesson, name):
    """The source of the one code cell of a lesson that assigns `name`."""
    cells = json.loads((ROOT / "notebooks" / f"{lesson}.ipynb").read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    defining = [source for source in sources if f"\n{name} = " in f"\n{source}"]
    assert len(defining) == 1, (lesson, name)
    return defining[0]


def _run_settings_cell(lesson, monkeypatch, quick):
    """The names a lesson's settings cell defines, run as a full run (or in quick mode) would run it."""
    monkeypatch.setenv(course.QUICK_VARIABLE, "1" if quick else "0")
    printed = []
    monkeypatch.setattr(course, "show_settings", lambda config, steps: printed.append((config, steps)))
    names = {"course": course, "training": training}
    exec(_cell_defining(lesson, "CONFIG"), names)
    assert printed == [(names["CONFIG"], names["TRAINING_STEPS"])]  # the lesson shows what it trains with
    return names


@pytest.mark.parametrize("family", FAMILIES)
def test_each_lesson_trains_its_familys_recipe_for_the_recipes_steps(family, monkeypatch):
    names = _run_settings_cell(LESSONS[family], monkeypatch, quick=False)
    assert names["CONFIG"] == TrainConfig(family=family)
    assert names["TRAINING_STEPS"] == TrainConfig(family=family).recipe_steps
    assert _run_settings_cell(LESSONS[family], monkeypatch, quick=True)["TRAINING_STEPS"] < 100


def test_lesson_3_trains_the_self_conditioned_recipe_for_its_steps():
    cell = _cell_defining("03_dcgan", "CLUSTERED_CONFIG")
    assert "CLUSTERS = training.SELF_CONDITIONING_CLUSTERS" in cell
    assert 'CLUSTERED_CONFIG = training.TrainConfig(family="dcgan", clusters=CLUSTERS)' in cell
    assert "CLUSTERED_STEPS = course.full_or_quick(CLUSTERED_CONFIG.recipe_steps," in cell
    assert "steps=CLUSTERED_STEPS" in _cell_defining("03_dcgan", "clustered_history")


@pytest.mark.parametrize("family, clusters", [("gan", 0), ("cgan", 0), ("dcgan", 0), ("dcgan", SELF_CONDITIONING_CLUSTERS),
                                              ("cdcgan", 0)])
def test_the_command_line_trains_the_recipe_by_default(family, clusters, run_cli, monkeypatch, tmp_path):
    import ganutils.run

    trained = []
    monkeypatch.setattr(ganutils.run, "train_run", lambda config, out_dir, steps, **options: trained.append((config, steps)))
    options = ["--clusters", clusters] if clusters else []
    assert run_cli("train", family, *options, "--out", tmp_path / "run")[0] == 0
    config = TrainConfig(family=family, clusters=clusters)
    assert trained == [(config, config.recipe_steps)]


@pytest.mark.parametrize("model", SHIPPED)
def test_each_shipped_generator_is_its_recipes_full_run(model):
    family, clusters = SHIPPED[model]
    record = json.loads((ROOT / "trained_models" / f"{model}.run.json").read_text())
    config = TrainConfig(family=family, clusters=clusters)
    assert TrainConfig.from_dict(record["config"]) == config  # a setting the file predates means what it trained with
    assert record["steps"] == config.recipe_steps
