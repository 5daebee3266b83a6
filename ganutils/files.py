"""File handling that needs no Keras: atomic output files and sets of them, bounded reading of .npz archives, and checks of model files."""

import json
import math
import os
import shutil
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ganutils.model_config import ModelFileError, check_model_config

PARTIAL_MARK = ".partial-"  # in the name of every temporary file `atomic_output` writes: .NAME.partial-XXXXXXXX.SUFFIX
MAX_MODEL_BYTES = 256 * 2**20  # a .keras file's contents, unpacked; the course's largest generator holds 6.3 MB
MAX_MODEL_CONFIG_BYTES = 2**20  # its config.json, unpacked; the course's largest is 15 kB
STAGED = ".staged"  # the folder a set of outputs is written to before it is moved into place together
STAGED_COMPLETE = ".complete"  # in STAGED once every file of the set is written: the move may then be finished


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


def remove_partial_files(folder, target=None):
    """Delete the temporary files that interrupted writes left in `folder` and its subfolders, or only those of `target`; returns how many."""
    if target is not None:
        leftovers = list(Path(folder).glob(f".{Path(target).stem}{PARTIAL_MARK}*{Path(target).suffix}"))
    else:
        pattern = f".*{PARTIAL_MARK}*"
        leftovers = [*Path(folder).glob(pattern), *Path(folder).glob(f"*/{pattern}")]
    leftovers = [path for path in leftovers if path.is_file() and not path.is_symlink()]
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
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, OSError, zlib.error, ValueError) as error:  # UnicodeDecodeError and JSON errors are ValueErrors
        raise ModelFileError(f"{path}: not a Keras model file (its config.json is unreadable: {error})") from None
    check_model_config(config, path)


@contextmanager
def staged_outputs(folder, last):
    """Yield a folder to write a set of outputs into, laid out as `folder`; then move them all into `folder`, `last` last.

    The set is marked complete before the move begins, and `finish_staged_outputs` finishes a
    move that was interrupted: what the folder holds is the old set or the new one, never a mix
    once ganutils has looked at it. A block that fails leaves the old set alone.
    """
    staging = Path(folder) / STAGED
    _remove(staging)
    staging.mkdir()
    try:
        yield staging
        (staging / STAGED_COMPLETE).touch()
    except BaseException:
        _remove(staging)
        raise
    finish_staged_outputs(folder, last)


def finish_staged_outputs(folder, last=None):
    """Finish moving a complete staged set into `folder` (`last` last), or drop an incomplete one; returns whether there was one."""
    staging = Path(folder) / STAGED
    if not staging.is_dir() or staging.is_symlink():
        return False
    if (staging / STAGED_COMPLETE).is_file():
        staged = [path for path in staging.rglob("*") if path.is_file() and path.name != STAGED_COMPLETE]
        for path in sorted(staged, key=lambda path: path.name == last):
            target = Path(folder) / path.relative_to(staging)
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)
    _remove(staging)
    return True


def deflate_zip(path):
    """Rewrite the zip archive at `path` (a `.keras` file) with every member compressed; returns (bytes before, after)."""
    path = Path(path)
    before = path.stat().st_size
    with atomic_output(path) as temporary:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
            for member in source.infolist():
                target.writestr(member, source.read(member.filename), compress_type=zipfile.ZIP_DEFLATED)
    return before, path.stat().st_size


def _remove(path):
    """Delete a file, link or folder tree, if there is one."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


class ArchiveError(ValueError):
    """An .npz archive that is damaged, holds something other than arrays of numbers, or declares too much."""


def npz_headers(path):
    """Each array of an .npz archive by name, as (shape, dtype), read from its header alone."""
    if not zipfile.is_zipfile(path):  # numpy would take it for a pickle, and suggest loading it as one
        raise ArchiveError(f"{path}: unreadable npz file (not a zip archive of NumPy arrays)")
    with _archive_errors(path):
        with zipfile.ZipFile(path) as archive:
            return {info.filename.removesuffix(".npy"): _npy_header(archive, info, path)[:2] for info in archive.infolist()}


def read_npz(path, names, max_bytes):
    """The arrays `names` of an .npz archive; each is refused before it is decompressed if it declares more than `max_bytes`."""
    arrays = {}
    with _archive_errors(path):
        with zipfile.ZipFile(path) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            for name in names:
                if name not in members:
                    raise ArchiveError(f"{path}: holds no array {name!r}")
                arrays[name] = _read_member(archive, members[name], path, max_bytes)
    return arrays


@contextmanager
def _archive_errors(path):
    """Turn what numpy and zipfile raise for a damaged archive into one `ArchiveError` naming it."""
    try:
        yield
    except ArchiveError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError) as error:  # ValueError: a damaged array header
        raise ArchiveError(f"{path}: unreadable npz file ({first_line(error)})") from None


def _npy_header(archive, info, path):
    """(shape, dtype, bytes of data) of one .npy member; refused unless its header and its unpacked size agree."""
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
        header_bytes = stream.tell()
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ArchiveError(f"{path}: its array {info.filename!r} holds {dtype}, not numbers")
    data_bytes = math.prod(shape) * dtype.itemsize
    if header_bytes + data_bytes != info.file_size:
        raise ArchiveError(f"{path}: its array {info.filename!r} declares {data_bytes:,} bytes of data "
                           f"but unpacks to {info.file_size - header_bytes:,}")
    return shape, dtype, data_bytes


def _read_member(archive, info, path, max_bytes):
    """One array of an archive, its declared size checked first; the stream stops at the size the archive declares."""
    shape, dtype, data_bytes = _npy_header(archive, info, path)
    if data_bytes > max_bytes:
        raise ArchiveError(f"{path}: its array {info.filename!r} declares {data_bytes:,} bytes (shape {shape}), "
                           f"more than the {max_bytes:,} ganutils reads from one")
    with archive.open(info) as stream:
        return np.lib.format.read_array(stream, allow_pickle=False)


def first_line(error):
    """The first line of an exception's message, for one-line reports."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
