"""A training run's output folder, without Keras: the names a run writes, whether it holds a run, and its lock.

A folder holds a run once it holds a checkpoint or a `run.json`. `train` refuses such a folder,
or one holding any file at a name a run writes, unless told to resume the run or to overwrite
it; overwriting replaces those files only. While a run trains, the folder's lock file
holds the run's process id, so that a second run into the folder is refused; a lock whose
process has died (killed, or its machine restarted) is taken over.
"""

import os
from contextlib import contextmanager
from pathlib import Path

from ganutils.files import STAGED, finish_staged_outputs

CHECKPOINT = "checkpoint.npz"
RUN_SUMMARY = "run.json"
LOCK = "ganutils.lock"
RUN_FILES = ("generator.keras", "discriminator.keras", "history.csv", "history.json", "losses.png", "training.gif",
             RUN_SUMMARY, CHECKPOINT)  # what a run writes at the top of its folder
EVALUATION_IMAGES = "evaluation_images"
SAMPLES_PICTURE = "samples.png"  # an unconditional generator's evaluation image; a conditional one's: `digit_picture`
SNAPSHOTS = "snapshots"
SNAPSHOT_FRAMES = "step_*.png"  # the names of GIF frames, `*` the step in 7 digits (`plotting.StepSnapshots`)


class RunError(ValueError):
    """A training run cannot start as asked (for example, nothing to resume)."""


def holds_a_run(out_dir):
    """Whether `out_dir` holds a checkpoint or a finished run's summary."""
    return any((Path(out_dir) / name).exists() for name in (CHECKPOINT, RUN_SUMMARY))


def digit_picture(digit):
    """The name of a conditional generator's evaluation image of one digit."""
    return f"{digit}.png"


EVALUATION_PICTURES = (SAMPLES_PICTURE, *map(digit_picture, range(10)))


def snapshot_frames(folder):
    """The GIF frames in a snapshot folder, in step order."""
    return sorted(path for path in Path(folder).glob(SNAPSHOT_FRAMES) if path.stem.removeprefix("step_").isdigit())


def run_outputs(out_dir):
    """The files in `out_dir` at the names a run writes (what `--overwrite` replaces)."""
    out_dir = Path(out_dir)
    named = [out_dir / name for name in RUN_FILES] + [out_dir / EVALUATION_IMAGES / name for name in EVALUATION_PICTURES]
    return [path for path in named if path.is_file()] + snapshot_frames(out_dir / SNAPSHOTS)


def check_run_folder(out_dir, resume=False, overwrite=False):
    """Refuse to train into `out_dir` if another run holds it, or if it holds a run's files and neither `resume` nor `overwrite` is asked."""
    out_dir = Path(out_dir)
    if resume and overwrite:
        raise RunError("resume a run or overwrite it, not both")
    if resume and not (out_dir / CHECKPOINT).exists():
        raise RunError(f"{out_dir}: no {CHECKPOINT} to resume from")
    if not (resume or overwrite) and holds_a_run(out_dir):
        raise RunError(f"{out_dir} holds a training run already: continue it with --resume, or replace it with --overwrite")
    outputs = [] if resume or overwrite else run_outputs(out_dir)
    if outputs:
        raise RunError(f"{out_dir} holds files at the names a run writes ({outputs[0].relative_to(out_dir)}"
                       f"{f' and {len(outputs) - 1} more' if len(outputs) > 1 else ''}): choose another --out, "
                       "or replace them with --overwrite")
    check_unlocked(out_dir)


def check_unlocked(folder):
    """Refuse a folder that a running training run holds."""
    lock = Path(folder) / LOCK
    if lock.exists() and _held_by_another_process(_lock_owner(lock)):
        raise RunError(_in_use(lock))


def finish_interrupted_outputs(folder):
    """Finish moving a run's final outputs into `folder` if an interruption stopped the move, unless a run holds the folder now."""
    if (Path(folder) / STAGED).exists():
        try:
            with locked(folder):
                pass
        except RunError:  # the run that holds it finishes the move itself
            pass


@contextmanager
def locked(out_dir):
    """Create `out_dir` if needed and hold its lock while the block runs; an emptied new folder goes too.

    Once the lock is taken, a set of final outputs whose move an interruption stopped is moved into place.
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = out_dir / LOCK
    _take_lock(lock)
    try:
        if finish_staged_outputs(out_dir, last=RUN_SUMMARY):
            print(f"Finished the final writes that an interrupted run left in {out_dir}")
        yield
    finally:
        lock.unlink(missing_ok=True)
        if created:
            _remove_if_empty(out_dir)


def _remove_if_empty(out_dir):
    """Delete a folder that holds nothing but empty folders of a run's (a run that stopped before writing anything)."""
    for name in (SNAPSHOTS, EVALUATION_IMAGES, ""):
        folder = out_dir / name
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _take_lock(lock):
    """Create the lock file, or take it over from a process that no longer runs; refuse if another one does."""
    if _create_lock(lock):
        return
    owner = _lock_owner(lock)
    if _held_by_another_process(owner):
        raise RunError(_in_use(lock))
    print(f"Taking over {lock}: process {owner}, which wrote it, no longer runs")
    lock.unlink(missing_ok=True)
    if not _create_lock(lock):
        raise RunError(_in_use(lock))


def _create_lock(lock):
    """Create `lock` holding this process's id, unless it exists; returns whether it was created."""
    try:
        descriptor = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as stream:
        stream.write(f"{os.getpid()}\n")
    return True


def _lock_owner(lock):
    """The process id a lock file holds, or None if it holds none."""
    try:
        owner = int(lock.read_text().strip())
    except (OSError, ValueError):
        return None
    return owner if owner > 0 else None


def _held_by_another_process(owner):
    """Whether a lock with this owner is held: by a running process other than this one, or by one unknown."""
    if owner is None:
        return True
    if owner == os.getpid():  # a stale lock whose id this process happens to have now
        return False
    try:
        os.kill(owner, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OverflowError:
        return False
    return True


def _in_use(lock):
    owner = _lock_owner(lock)
    holder = f"process {owner}" if owner else "a process that left no id"
    return f"{lock.parent} is in use by another training run ({holder}); if none is running, delete {lock}"
