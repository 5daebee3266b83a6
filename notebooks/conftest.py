"""nbval settings for the notebooks: stderr (TensorFlow's start-up noise) and GIFs are not compared."""


def pytest_collectstart(collector):
    """Add stderr and GIF images to what nbval leaves out of its comparison."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr", "image/gif")
