"""The setup cell's install: installed packages pinned at their versions, the missing ones added, Keras free to upgrade."""

import json
import shlex
import tomllib
from pathlib import Path

from ganutils.install import KEPT, install_arguments, install_line, requirement_name

ROOT = Path(__file__).parents[1]
REQUIREMENTS = ["keras>=3.15", "numpy>=1.26", "matplotlib>=3.8", "imageio>=2.31", "mlxtend>=0.23", "scikit-learn>=1.3"]
COLAB = {"numpy": "2.0.2", "tensorflow": "2.19.0", "keras": "3.10.0", "pandas": "2.2.2", "scikit-learn": "1.6.1",
         "scipy": "1.14.1", "matplotlib": "3.10.0", "imageio": "2.37.0"}  # mlxtend missing


def test_a_colab_runtime_keeps_its_packages_gets_a_newer_keras_and_the_missing_mlxtend():
    arguments = install_arguments(REQUIREMENTS, COLAB)
    assert arguments == ["numpy==2.0.2", "tensorflow==2.19.0", "pandas==2.2.2", "scikit-learn==1.6.1", "scipy==1.14.1",
                         "matplotlib==3.10.0", "imageio==2.37.0", "keras>=3.15", "mlxtend>=0.23"]


def test_a_runtime_that_has_everything_only_pins_it():
    versions = {**COLAB, "mlxtend": "0.23.4", "keras": "3.15.1"}
    arguments = install_arguments(REQUIREMENTS, versions)
    assert "mlxtend==0.23.4" in arguments and "keras>=3.15" in arguments
    assert not [argument for argument in arguments if "==" not in argument and not argument.startswith("keras")]


def test_an_empty_runtime_gets_every_requirement_and_the_default_backend_and_pins_nothing():
    assert install_arguments(REQUIREMENTS, {}, backend=["tensorflow>=2.20"]) == [*REQUIREMENTS, "tensorflow>=2.20"]


def test_a_runtime_with_another_backend_gets_no_tensorflow():
    assert install_arguments(REQUIREMENTS, {"jax": "0.4.30"}, backend=["tensorflow>=2.20"]) == ["jax==0.4.30", *REQUIREMENTS]


def test_requirement_names_are_normalised():
    assert [requirement_name(text) for text in ("scikit_learn>=1.3", "Keras >= 3.15", "jax[cuda12]", "numpy")] == \
        ["scikit-learn", "keras", "jax", "numpy"]


def test_the_line_is_quoted_for_the_shell():
    assert shlex.split(install_line()) == install_arguments()
    assert "'keras>=3.15'" in install_line()  # unquoted, the shell would read > as a redirection


def test_the_default_requirements_are_the_package_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [argument for argument in install_arguments(versions={}) if "==" not in argument]
    assert wanted == project["dependencies"] + project["optional-dependencies"]["tensorflow"]
    assert {"numpy", "tensorflow", "pandas", "scikit-learn", "scipy", "matplotlib", "mlxtend"} <= set(KEPT)


def test_every_setup_cell_installs_ganutils_alone_then_the_pinned_line():
    for lesson in sorted((ROOT / "notebooks").glob("*.ipynb")):
        setup = "".join(json.loads(lesson.read_text())["cells"][1]["source"])
        assert "%pip install --quiet --no-deps {source}" in setup, lesson.name
        assert "%pip install --quiet {install_line()}" in setup, lesson.name
