"""nbval settings for the lessons: quick mode unless asked otherwise, sanitize.cfg, and no comparison of stderr or GIFs.

`pytest --nbval notebooks/` as typed runs each lesson in quick mode (a few training steps, outputs in a
temporary folder); `GANUTILS_QUICK=0 pytest --nbval notebooks/` runs them in full and writes the
course's results.
"""

import os
from pathlib import Path

from nbval.plugin import get_sanitize_patterns

SANITIZE = Path(__file__).with_name("sanitize.cfg")

# ganutils.course.QUICK_VARIABLE, named here without importing ganutils: the stand-alone test runs
# this file where the lesson itself installs ganutils. The kernels inherit this environment.
os.environ.setdefault("GANUTILS_QUICK", "1")


def pytest_collectstart(collector):
    """Mask what varies between runs (sanitize.cfg) and leave stderr and GIF images out of the comparison."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr", "image/gif")
        collector.sanitize_patterns.update(get_sanitize_patterns(SANITIZE.read_text()))
