"""nbval settings for the notebooks: quick mode unless asked otherwise; stderr and GIFs are not compared.

`pytest --nbval` as typed runs each lesson in quick mode (a few training steps, outputs in a temporary
folder); `GANUTILS_QUICK=0 pytest --nbval notebooks/` runs them in full, writing the course's results.
"""

import os

from ganutils.course import QUICK_VARIABLE

os.environ.setdefault(QUICK_VARIABLE, "1")  # read by the notebooks' kernels, which inherit this environment


def pytest_collectstart(collector):
    """Add stderr and GIF images to what nbval leaves out of its comparison."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr", "image/gif")
