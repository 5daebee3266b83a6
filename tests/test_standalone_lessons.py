"""Each lesson, copied alone into an empty folder, installs ganutils through its own setup cell and runs there.

The folder also holds the lessons' nbval settings (conftest.py, sanitize.cfg), which the lesson does not use.

The environment has the course's dependencies but not ganutils; the setup cell installs it from a
wheel of this checkout (GANUTILS_INSTALL_SOURCE) and the lesson runs in quick mode under nbval,
with HOME, TMPDIR and KERAS_HOME inside its folder.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
HARNESS = ("conftest.py", "sanitize.cfg")  # the lessons' nbval settings

pytestmark = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="the lessons are tested on TensorFlow, Keras' default backend",
)


def build_wheel(folder):
    """A wheel of this checkout's ganutils, built from a copy so that nothing is written into the repository."""
    source = folder / "source"
    shutil.copytree(ROOT / "ganutils", source / "ganutils", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(folder / "wheels"), str(source)], check=True)
    return next((folder / "wheels").glob("ganutils-*.whl"))


def environment_without_ganutils(folder):
    """A virtual environment that sees this one's packages, all but ganutils; returns its python."""
    visible = folder / "dependencies"
    visible.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "ganutils" not in entry.name and entry.suffix != ".pth":
            (visible / entry.name).symlink_to(entry)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "env")], check=True)
    python = folder / "env" / "bin" / "python"
    site_packages = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip()
    Path(site_packages, "course-dependencies.pth").write_text(f"{visible}\n")
    return python


@pytest.fixture(scope="module")
def lesson_environment(tmp_path_factory):
    """One environment without ganutils, and the wheel the lessons install into it, shared by the four lessons.

    Each lesson starts by uninstalling what the one before it installed, so that every setup cell installs.
    """
    folder = tmp_path_factory.mktemp("standalone")
    return environment_without_ganutils(folder), build_wheel(folder)


def home_listing():
    """The user's home folder's entries (two levels) and their modification times."""
    home = Path.home()
    entries = [*home.glob("*"), *home.glob(".*"), *home.glob(".*/*")]
    return {str(path): path.lstat().st_mtime for path in entries}


def git_status():
    return subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem for lesson in LESSONS])
def test_a_lesson_runs_alone_and_writes_only_inside_its_folder(lesson, lesson_environment, tmp_path):
    python, wheel = lesson_environment
    subprocess.run([python, "-m", "pip", "uninstall", "--yes", "--quiet", "ganutils"], cwd=tmp_path, capture_output=True)
    assert subprocess.run([python, "-c", "import ganutils"], cwd=tmp_path, capture_output=True).returncode != 0
    shutil.copy(lesson, tmp_path)
    for name in HARNESS:
        shutil.copy(ROOT / "notebooks" / name, tmp_path)
    for name in ("home", "tmp", "keras"):
        (tmp_path / name).mkdir()
    variables = {"HOME": "home", "TMPDIR": "tmp", "KERAS_HOME": "keras"}
    environment = {**os.environ, **{key: str(tmp_path / name) for key, name in variables.items()},
                   "GANUTILS_INSTALL_SOURCE": str(wheel), "GANUTILS_QUICK": "1", "KERAS_BACKEND": "tensorflow",
                   "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    environment.pop("PYTHONPATH", None)
    before, status_before = home_listing(), git_status()
    run = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env", lesson.name],
                         cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert any((tmp_path / "tmp").iterdir())  # quick mode's outputs, in its TMPDIR (nbval stops the kernel without exit handlers)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([lesson.name, *HARNESS, *variables.values()])
    assert home_listing() == before and git_status() == status_before
