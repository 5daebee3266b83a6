"""The output folder of a run: what counts as a run, and the lock that keeps two runs apart."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ganutils.run_folder import CHECKPOINT, LOCK, RunError, check_run_folder, locked, run_outputs


def _dead_process_id():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


USERS_FILES = ("generator.keras", "history.csv", "losses.png", "training.gif", "snapshots/step_0000001.png",
               "evaluation_images/samples.png")  # at names a run writes, in a folder that holds no run
OTHER_FILES = ("evaluation_images/my_figure.png", "snapshots/step_mine.png", "snapshots/notes.txt", "notes.txt")


def write_files(folder, names):
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name)


def test_a_folder_with_files_at_a_runs_names_needs_overwrite(tmp_path):
    write_files(tmp_path, OTHER_FILES)
    check_run_folder(tmp_path)  # files at other names are no obstacle
    for name in USERS_FILES:
        write_files(tmp_path, [name])
        with pytest.raises(RunError, match=f"holds files at the names a run writes \\({name}\\): choose another --out, "
                                           "or replace them with --overwrite"):
            check_run_folder(tmp_path)
        check_run_folder(tmp_path, overwrite=True)
        (tmp_path / name).unlink()


def test_overwrite_replaces_the_runs_names_only(tmp_path):
    write_files(tmp_path, USERS_FILES + OTHER_FILES)
    assert sorted(str(path.relative_to(tmp_path)) for path in run_outputs(tmp_path)) == sorted(USERS_FILES)


def test_a_folder_holding_a_checkpoint_or_a_summary_needs_resume_or_overwrite(tmp_path):
    check_run_folder(tmp_path)
    check_run_folder(tmp_path / "new")
    for name in (CHECKPOINT, "run.json"):
        (tmp_path / name).write_text("x")
        with pytest.raises(RunError, match=f"{tmp_path} holds a training run already: continue it with --resume, "
                                           "or replace it with --overwrite"):
            check_run_folder(tmp_path)
        check_run_folder(tmp_path, overwrite=True)
        (tmp_path / name).unlink()
    with pytest.raises(RunError, match="no checkpoint.npz to resume from"):
        check_run_folder(tmp_path, resume=True)


def test_a_live_run_keeps_its_folder(tmp_path):
    (tmp_path / LOCK).write_text(f"{os.getppid()}\n")  # a running process, not this one
    expected = rf"{tmp_path} is in use by another training run \(process {os.getppid()}\); if none is running, delete"
    with pytest.raises(RunError, match=expected):
        check_run_folder(tmp_path, overwrite=True)
    with pytest.raises(RunError, match=expected):
        with locked(tmp_path):
            pass
    assert (tmp_path / LOCK).read_text() == f"{os.getppid()}\n"


def test_the_lock_holds_the_process_id_and_goes_on_any_exit(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError):
        with locked(out):
            assert (out / LOCK).read_text() == f"{os.getpid()}\n"
            raise RuntimeError
    assert not out.exists() and (tmp_path / "new").exists()  # the folder it made, left empty, goes too
    with locked(out):
        (out / "kept.txt").write_text("x")
    assert os.listdir(out) == ["kept.txt"]


def test_a_dead_process_lock_is_taken_over_with_a_notice(tmp_path, capsys):
    dead = _dead_process_id()
    (tmp_path / LOCK).write_text(f"{dead}\n")
    check_run_folder(tmp_path)
    with locked(tmp_path):
        assert (tmp_path / LOCK).read_text() == f"{os.getpid()}\n"
    assert capsys.readouterr().out == f"Taking over {tmp_path / LOCK}: process {dead}, which wrote it, no longer runs\n"
    assert not (tmp_path / LOCK).exists()


def test_a_lock_without_a_process_id_is_not_taken(tmp_path):
    (tmp_path / LOCK).write_text("")
    with pytest.raises(RunError, match="a process that left no id"):
        with locked(tmp_path):
            pass


def test_sigterm_ends_a_run_like_ctrl_c_and_releases_its_lock(tmp_path):
    child = textwrap.dedent(f"""
        import sys, time
        from ganutils import cli, run_folder

        def stand_in_for_training(args):
            with run_folder.locked(args.out):
                print("locked", flush=True)
                time.sleep(60)

        cli._train = stand_in_for_training
        sys.exit(cli.main(["train", "gan", "--out", {str(tmp_path)!r}]))
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # this checkout's ganutils
    process = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline() == "locked\n"
    assert (tmp_path / LOCK).exists()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr == "ganutils: interrupted: training stopped; continue the run with --resume\n"
    assert not (tmp_path / LOCK).exists()
