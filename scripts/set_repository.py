"""Point the course at its GitHub repository: python scripts/set_repository.py OWNER/NAME [--ref BRANCH_OR_TAG]

Writes the address into pyproject.toml's [project.urls] Source, the one place it is kept, and
into every link that follows it: the Colab badges, the "view on GitHub" links and the notebooks'
install lines, in README.md and notebooks/*.ipynb.
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
SOURCE_LINE = re.compile(rf'^Source = "https://github\.com/(?P<repo>{NAME}/{NAME})/tree/(?P<ref>{NAME})"$', re.M)
# Every form of link that follows the source, as a template and the pattern that finds it.
TEMPLATES = (
    "https://colab.research.google.com/github/{repo}/blob/{ref}/",
    "https://github.com/{repo}/blob/{ref}/",
    "git+https://github.com/{repo}@{ref}",
)
LINKS = [
    (template, re.compile(re.escape(template).replace(r"\{repo\}", rf"(?P<repo>{NAME}/{NAME})").replace(r"\{ref\}", rf"(?P<ref>{NAME})")))
    for template in TEMPLATES
]
ANY_GITHUB_ADDRESS = re.compile(r"github(?:\.com)?/[^\s\"')\]>]+")


def linked_files(root=ROOT):
    """The files whose links follow the source: the README and the lessons."""
    return [root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]


def read_source(root=ROOT):
    """The (OWNER/NAME, ref) of the course's repository, from pyproject.toml."""
    found = SOURCE_LINE.search((root / "pyproject.toml").read_text())
    if not found:
        raise ValueError(f"{root / 'pyproject.toml'}: no [project.urls] Source line of the form "
                         '"https://github.com/OWNER/NAME/tree/REF"')
    return found["repo"], found["ref"]


def links_in(text):
    """The (OWNER/NAME, ref) each of the text's links names, and the GitHub addresses that are no such link."""
    named = [(match["repo"], match["ref"]) for _, pattern in LINKS for match in pattern.finditer(text)]
    for _, pattern in LINKS:
        text = pattern.sub("", text)
    return named, ANY_GITHUB_ADDRESS.findall(text)


def set_repository(repo, ref, root=ROOT):
    """Write `repo` and `ref` into the source and every link that follows it."""
    pyproject = root / "pyproject.toml"
    read_source(root)
    pyproject.write_text(SOURCE_LINE.sub(f'Source = "https://github.com/{repo}/tree/{ref}"', pyproject.read_text()))
    for path in linked_files(root):
        text = path.read_text()
        for template, pattern in LINKS:
            text = pattern.sub(lambda _: template.format(repo=repo, ref=ref), text)
        path.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", help="OWNER/NAME on GitHub")
    parser.add_argument("--ref", default="main", help="the branch or tag the notebooks install from (default main)")
    args = parser.parse_args()
    for value, what in ((args.repository, f"{NAME}/{NAME}"), (args.ref, NAME)):
        if not re.fullmatch(what, value):
            sys.exit(f"set_repository.py: {value!r} is not a GitHub {'OWNER/NAME' if '/' in what else 'branch or tag name'}")
    set_repository(args.repository, args.ref)
    print(f"The course now points to https://github.com/{args.repository} at {args.ref}")


if __name__ == "__main__":
    main()
