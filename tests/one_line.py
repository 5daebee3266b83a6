"""The command line's way of failing: one line on stderr."""


def one_line_error(stderr, *fragments):
    """Check that stderr is one `ganutils: error:` line holding each fragment."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganutils: error:"), stderr
    assert all(fragment in lines[0] for fragment in fragments), lines[0]
