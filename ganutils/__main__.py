"""`python -m ganutils`: the command line."""

import sys

from ganutils.cli import main

sys.exit(main())
