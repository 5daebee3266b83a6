"""The course's address is kept once, in pyproject.toml, and every badge, link and install line follows it."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "set_repository.py"
specification = importlib.util.spec_from_file_location("set_repository", SCRIPT)
set_repository = importlib.util.module_from_spec(specification)
specification.loader.exec_module(set_repository)


def test_every_link_follows_the_address_in_pyproject():
    source = set_repository.read_source()
    for path in set_repository.linked_files():
        named, strays = set_repository.links_in(path.read_text())
        assert named and set(named) == {source}, path
        assert strays == [], path


def test_each_lesson_links_to_itself_in_colab_and_on_github_and_installs_the_package():
    repo, ref = set_repository.read_source()
    for lesson in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = lesson.read_text()
        for template in set_repository.TEMPLATES:
            link = template.format(repo=repo, ref=ref)
            assert (link in text) if "git+" in link else (f"{link}notebooks/{lesson.name}" in text), (lesson.name, link)


def course_copy(folder):
    """The files the script rewrites, copied into `folder`."""
    shutil.copy(ROOT / "pyproject.toml", folder)
    shutil.copy(ROOT / "README.md", folder)
    shutil.copytree(ROOT / "notebooks", folder / "notebooks", ignore=shutil.ignore_patterns("*.py", "*.cfg"))
    return folder


def test_set_repository_moves_every_link_to_the_new_address(tmp_path):
    old_repo, _ = set_repository.read_source()
    course = course_copy(tmp_path)
    set_repository.set_repository("someone/gan-lessons", "v1.0", root=course)
    assert set_repository.read_source(course) == ("someone/gan-lessons", "v1.0")
    for path in set_repository.linked_files(course):
        named, strays = set_repository.links_in(path.read_text())
        assert named and set(named) == {("someone/gan-lessons", "v1.0")} and strays == [], path
        assert old_repo not in path.read_text(), path


def test_a_bad_repository_name_is_refused_in_one_line():
    result = subprocess.run([sys.executable, SCRIPT, "not a repository"], capture_output=True, text=True)
    assert result.returncode != 0 and result.stderr.count("\n") == 1 and "OWNER/NAME" in result.stderr
