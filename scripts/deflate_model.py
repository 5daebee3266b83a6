"""Re-zip .keras files with deflate compression, in place (Keras stores them uncompressed).

The four shipped generators must stay under 20 MB together; compressed, their float32 weights
take about 8% less room, and Keras loads them as before. Usage:

    python scripts/deflate_model.py trained_models/dcgan.keras [...]
"""

import sys
import zipfile
from pathlib import Path


def deflate(path):
    """Rewrite the zip archive at `path` with every member compressed; returns (bytes before, after)."""
    path = Path(path)
    temporary = path.with_suffix(".deflating")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for member in source.infolist():
            target.writestr(member, source.read(member.filename), compress_type=zipfile.ZIP_DEFLATED)
    before = path.stat().st_size
    temporary.replace(path)
    return before, path.stat().st_size


if __name__ == "__main__":
    for name in sys.argv[1:]:
        before, after = deflate(name)
        print(f"{name}: {before:,} -> {after:,} bytes")
