"""Re-zip .keras files with deflate compression, in place (Keras stores them uncompressed).

Compressed, a generator's float32 weights take about 8% less room, and Keras loads them as
before; the lessons' exports (`course.export_model`) are compressed the same way. Usage:

    python scripts/deflate_model.py trained_models/dcgan.keras [...]
"""

import sys

from ganutils.files import deflate_zip

if __name__ == "__main__":
    for name in sys.argv[1:]:
        before, after = deflate_zip(name)
        print(f"{name}: {before:,} -> {after:,} bytes")
