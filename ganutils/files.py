"""File handling that needs no Keras: atomic output files, their leftovers, and checks of model files."""

import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

PARTIAL_MARK = ".partial-"  # in the name of every temporary file `atomic_output` writes: .NAME.partial-XXXXXXXX.SUFFIX
MAX_MODEL_BYTES = 256 * 2**20  # a .keras file's contents, unpacked; the course's largest generator holds 6.3 MB
MAX_MODEL_CONFIG_BYTES = 2**20  # its config.json, unpacked; the course's largest is 15 kB


@contextmanager
def atomic_output(path):
    """Yield a new temporary path beside `path`; move it into place only if the block succeeds.

    The temporary file is created exclusively (`tempfile.mkstemp`: O_EXCL, an unpredictable name)
    with the permissions of an ordinary new file. An OSError names `path`, not the temporary file.
    """
    path = Path(path)
    try:
        descriptor, name = tempfile.mkstemp(suffix=path.suffix, prefix=f".{path.stem}{PARTIAL_MARK}", dir=path.parent)
    except OSError as error:
        raise _write_error(path, error) from None
    os.fchmod(descriptor, 0o666 & ~_umask())
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        raise _write_error(path, error) from None
    finally:
        temporary.unlink(missing_ok=True)


def _umask():
    """The process's file-creation mask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_error(path, error):
    return OSError(f"cannot write {path}: {error.strerror or error}")


def remove_partial_files(folder):
    """Delete the temporary files that interrupted writes left in `folder` and its subfolders; returns how many."""
    pattern = f".*{PARTIAL_MARK}*"
    leftovers = [*Path(folder).glob(pattern), *Path(folder).glob(f"*/{pattern}")]
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return len(leftovers)


def write_json(path, content):
    """Write `content` as indented JSON, atomically; NaN and infinity, which JSON lacks, are refused."""
    try:
        text = json.dumps(content, indent=1, allow_nan=False)
    except ValueError:
        raise ValueError(f"cannot write {path}: it would hold NaN or infinity, which JSON cannot") from None
    with atomic_output(path) as temporary:
        temporary.write_text(text + "\n")


class ModelFileError(ValueError):
    """A model file is missing, is not a Keras model, is too large, or is not a generator."""


def check_model_file(path):
    """Fail fast, before Keras loads, if `path` cannot be a `.keras` model file or unpacks too large."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras model file (.keras)")
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {member.filename: member.file_size for member in archive.infolist()}
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelFileError(f"{path}: not a Keras model file ({error})") from None
    if "config.json" not in sizes:
        raise ModelFileError(f"{path}: not a Keras model file (no config.json inside)")
    if sizes["config.json"] > MAX_MODEL_CONFIG_BYTES:
        raise ModelFileError(f"{path}: its config.json unpacks to {sizes['config.json']:,} bytes, "
                             f"more than the {MAX_MODEL_CONFIG_BYTES:,} a model file may hold")
    if sum(sizes.values()) > MAX_MODEL_BYTES:
        raise ModelFileError(f"{path}: unpacks to {sum(sizes.values()):,} bytes, "
                             f"more than the {MAX_MODEL_BYTES:,} a model file may hold")
