"""Write the course's diagrams, drawn by `ganutils.diagrams`, as PNGs into images/: python scripts/make_diagrams.py"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from ganutils.diagrams import save_diagrams  # noqa: E402

if __name__ == "__main__":
    for path in save_diagrams(Path(__file__).resolve().parent.parent / "images"):
        print("wrote", path)
