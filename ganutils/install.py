"""The lessons' setup cell: pip's arguments that add what ganutils needs without changing what a runtime (Colab) has.

Plain Python, importable before ganutils's dependencies are installed: the setup cell installs
ganutils alone (`pip install --no-deps`), then runs `pip install` with `install_line()`.
Every package of `KEPT` that is installed is pinned at its version, so pip leaves it as it is
and picks what is missing (mlxtend, say) to fit it and its own requirements (TensorFlow's
bounds on numpy, for one); Keras is the one package it may upgrade, to the version ganutils needs.
A runtime without any Keras backend (a fresh Jupyter) gets the default one, TensorFlow, as the
package's extra asks for it.
"""

import re
import shlex
from importlib import metadata

from ganutils.config import BACKENDS

KEPT = ("numpy", "tensorflow", "pandas", "scikit-learn", "scipy", "matplotlib", "mlxtend", "imageio", "jax", "torch")
UPGRADABLE = ("keras",)  # ganutils needs Keras 3.15 or newer: older ones return a running mean from train_on_batch


def requirement_name(requirement):
    """The package a requirement names, normalised: `scikit_learn>=1.3` is `scikit-learn`."""
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def installed_versions(names):
    """The installed version of each named package, or None where it is missing."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def ganutils_requirements():
    """ganutils's own requirements (not its extras), as its installed metadata lists them."""
    return [requirement for requirement in metadata.requires("ganutils") or [] if "extra ==" not in requirement]


def backend_requirements(backend=BACKENDS[0]):
    """What ganutils's extra for a Keras backend requires (`ganutils[tensorflow]`), as its installed metadata lists it."""
    marked = [requirement.split(";")[0].strip() for requirement in metadata.requires("ganutils") or []
              if re.search(rf"extra\s*==\s*['\"]{backend}['\"]", requirement)]
    return marked or [backend]


def install_arguments(requirements=None, versions=None, backend=None):
    """pip's arguments: each installed package of KEPT at its version, each requirement not installed, and a backend if none is.

    Args:
        requirements: what ganutils needs (default: its installed metadata's requirements).
        versions: installed version by package name, None where missing (default: read from
            this Python's installed packages).
        backend: what installs a Keras backend where none is (default: `backend_requirements()`).
    Returns:
        A list such as `["numpy==2.0.2", "tensorflow==2.19.0", "keras>=3.15", "mlxtend>=0.23"]`.
    """
    requirements = ganutils_requirements() if requirements is None else list(requirements)
    names = list(dict.fromkeys([*KEPT, *BACKENDS, *map(requirement_name, requirements)]))
    versions = installed_versions(names) if versions is None else versions
    if not any(versions.get(name) for name in BACKENDS):
        requirements += backend_requirements() if backend is None else backend
    needed = {requirement_name(requirement): requirement for requirement in requirements}
    pinned = [f"{name}=={versions[name]}" for name in dict.fromkeys([*names, *needed])
              if versions.get(name) and name not in UPGRADABLE]
    missing_or_upgradable = [needed[name] for name in needed if not versions.get(name) or name in UPGRADABLE]
    return pinned + missing_or_upgradable


def install_line():
    """`install_arguments()` as one shell-quoted line, for the setup cell's `%pip install`."""
    return shlex.join(install_arguments())
