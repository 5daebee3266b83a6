"""The lessons' prose types no measured figure: numbers in markdown are settings, shapes or small counts.

A figure measured in a run (a score, a distance, a loss, a time, a share) changes when the run
changes, so a lesson prints it from a code cell. This test finds every number in a lesson's
markdown outside math (`$...$`) and code spans, and fails on one that is not an integer up to
10, a citation's year, a section's number, a full run's time rounded ("about 20 minutes"), or in `ALLOWED`: the reviewed settings, shapes and sizes the prose names.
"""

import re
from pathlib import Path

import nbformat
import pytest

LESSONS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOT_PROSE = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|```.*?```|`[^`]*`|<[^>]*>|\]\([^)]*\)", re.DOTALL)
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:x\d+)?%?")
CITATION_YEAR = re.compile(r"(?<=[ (])(?:19|20)\d\d[a-z]?(?=[),;])")
REFERENCE = re.compile(r"\b(?:[Ss]ections?|[Ll]essons?|Algorithm|[Ee]xercise) \d+")
ROUNDED_TIME = re.compile(r"\babout \d+ (?:minutes|hours)")  # a full run's time, rounded, in a lesson's overview
# Settings, shapes and sizes of the course's models and data, named in the prose; none is measured.
ALLOWED = {
    "28x28", "7x7", "14x14", "3x3", "4x4", "5x5", "6x6", "2x2", "1x1",
    "16", "32", "64", "128", "256", "512", "1,024", "784", "100", "1,000", "10,000", "60,000", "5,000", "500",
    "100%", "0.5", "0.1", "0.9", "0.999", "0.99", "0.0002", "0.001", "6,272", "50", "40",
}


def prose_numbers(text):
    """The numbers in markdown text outside math, code, HTML tags and link targets."""
    prose = NOT_PROSE.sub(" ", text)
    for pattern in (CITATION_YEAR, REFERENCE, ROUNDED_TIME):
        prose = pattern.sub(" ", prose)
    return [number.rstrip(",") for number in NUMBER.findall(prose)]


def typed_figures(text):
    """The numbers in markdown text that are neither small integers, citation years nor `ALLOWED`."""
    return [number for number in prose_numbers(text)
            if number not in ALLOWED and not (number.isdigit() and int(number) <= 10)]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_no_measured_figure_is_typed_into_a_lessons_prose(lesson):
    found = [(index, figure) for index, cell in enumerate(nbformat.read(lesson, as_version=4).cells)
             if cell.cell_type == "markdown" for figure in typed_figures(cell.source)]
    assert not found, f"{lesson.name}: numbers typed into markdown (cell, number): {found}"


def test_the_figure_check_finds_a_typed_score_but_not_math_code_or_settings():
    assert typed_figures("The average scores 8.34, G 81.65.") == ["8.34", "81.65"]
    assert typed_figures("It took 12% of the steps, as section 11 shows.") == ["12%"]
    assert typed_figures("A full run takes about 20 minutes; $D(x) = 0.45$ and `steps=3_000` in 28x28 images, 10 digits (Goodfellow et al., 2014).") == []


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_no_nbval_marker_is_left_in_a_code_cell(lesson):
    code = [cell.source for cell in nbformat.read(lesson, as_version=4).cells if cell.cell_type == "code"]
    assert not [source for source in code if "NBVAL_" in source], f"{lesson.name}: use the cell tags (nbval-ignore-output), not comments"
