"""Atomic output files, their leftovers, JSON that stays JSON, and the size limits of model files."""

import errno
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from ganutils import files
from ganutils.config import SHIPPED_MODELS
from ganutils.files import ModelFileError, atomic_output, check_model_file, remove_partial_files, write_json


def test_atomic_output_writes_through_a_new_unpredictable_file_with_ordinary_permissions(tmp_path):
    names = []
    for _ in range(2):
        with atomic_output(tmp_path / "out.npz") as temporary:
            assert temporary.parent == tmp_path and temporary.exists() and temporary.suffix == ".npz"
            names.append(temporary.name)
            temporary.write_bytes(b"data")
    assert names[0] != names[1] and all(name.startswith(".out.partial-") for name in names)
    assert os.listdir(tmp_path) == ["out.npz"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "out.npz").stat().st_mode) == 0o666 & ~mask


def test_a_symlink_planted_in_the_folder_is_not_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    for pid in range(os.getpid() - 5, os.getpid() + 5):  # the names the old, predictable scheme used
        (tmp_path / f".out.partial-{pid}.json").symlink_to(victim)
    write_json(tmp_path / "out.json", {"a": 1})
    assert victim.read_text() == "keep" and json.loads((tmp_path / "out.json").read_text()) == {"a": 1}


def test_write_errors_name_the_target_not_the_temporary_file(tmp_path):
    target = tmp_path / "missing-folder" / "out.json"
    with pytest.raises(OSError) as raised:
        write_json(target, {})
    assert str(raised.value).startswith(f"cannot write {target}: ") and "partial" not in str(raised.value)


def test_a_full_disk_is_reported_against_the_target_and_leaves_nothing(tmp_path):
    with pytest.raises(OSError) as raised:
        with atomic_output(tmp_path / "out.npz") as temporary:
            temporary.write_bytes(b"half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a write to a full disk fails
    assert str(raised.value) == f"cannot write {tmp_path / 'out.npz'}: {os.strerror(errno.ENOSPC)}"
    assert list(tmp_path.iterdir()) == []


def test_remove_partial_files_finds_leftovers_of_interrupted_writes_only(tmp_path):
    (tmp_path / "snapshots").mkdir()
    leftovers = [tmp_path / ".generator.partial-123.keras", tmp_path / "snapshots" / ".step.partial-x1y2.png"]
    kept = [tmp_path / "generator.keras", tmp_path / "notes.partial.txt", tmp_path / "snapshots" / "step.png"]
    for path in leftovers + kept:
        path.write_bytes(b"x")
    assert remove_partial_files(tmp_path) == 2
    assert [path.exists() for path in leftovers + kept] == [False, False, True, True, True]


def test_json_never_holds_nan(tmp_path):
    with pytest.raises(ValueError, match="history.json: it would hold NaN or infinity"):
        write_json(tmp_path / "history.json", {"g_loss": float("nan")})
    assert list(tmp_path.iterdir()) == []


EMPTY_MODEL = {"class_name": "Functional", "config": {"layers": []}}


def _model_file(path, config_bytes, weight_bytes=0):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(EMPTY_MODEL).ljust(config_bytes))
        archive.writestr("model.weights.h5", b"\0" * weight_bytes)
    return path


def test_a_model_file_that_unpacks_too_large_is_refused_before_loading(tmp_path, monkeypatch):
    bomb = _model_file(tmp_path / "bomb.keras", files.MAX_MODEL_CONFIG_BYTES + 1)
    assert bomb.stat().st_size < 10_000
    with pytest.raises(ModelFileError, match=r"bomb.keras: its config.json unpacks to 1,048,577 bytes"):
        check_model_file(bomb)
    monkeypatch.setattr(files, "MAX_MODEL_BYTES", 5000)
    check_model_file(_model_file(tmp_path / "fits.keras", 100, 4900))
    with pytest.raises(ModelFileError, match=r"large.keras: unpacks to 5,001 bytes, more than the 5,000"):
        check_model_file(_model_file(tmp_path / "large.keras", 100, 4901))


def test_the_shipped_models_are_well_within_the_limits():
    shipped = sorted(Path(__file__).parents[1].glob("trained_models/*.keras"))
    assert len(shipped) == len(SHIPPED_MODELS)
    for path in shipped:
        with zipfile.ZipFile(path) as archive:
            sizes = {member.filename: member.file_size for member in archive.infolist()}
        assert sizes["config.json"] * 20 < files.MAX_MODEL_CONFIG_BYTES and sum(sizes.values()) * 20 < files.MAX_MODEL_BYTES


def _config_file(path, layers):
    """A .keras file holding only a config.json of a model with `layers`: what a crafted file may hold."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Functional", "config": {"layers": layers}}))
    return path


def _layer(kind, input_shape=(None, 100), **settings):
    build = {"build_config": {"input_shape": list(input_shape)}} if input_shape else {}
    return {"class_name": kind, "config": {"name": kind.lower(), **settings}, **build}


@pytest.mark.parametrize(
    "layers, message",
    [
        ([_layer("Dense", units=375_000_000)], "layer 'dense' (Dense) has units 375000000; ganutils loads from 1 to 100,000"),
        ([_layer("Dense", units=60_000), _layer("Dense", (None, 60_000), units=1000)],
         "its layers hold 66,061,000 weights, more than the 50,000,000 ganutils loads"),
        ([_layer("Dense", input_shape=None, units=8)], "layer 'dense' (Dense) has no input shape in its build_config"),
        ([_layer("Lambda")], "layer 'lambda' (Lambda) is of a class ganutils does not load"),
        ([_layer("Embedding", input_dim=100_000, output_dim=100_000)],
         "its layers hold 10,000,000,000 weights, more than the 50,000,000"),
        ([_layer("Conv2D", (None, 28, 28, 1), filters=64, kernel_size=[1000, 1000])], "has a kernel of 1,000,000 pixels"),
        ([_layer("UpSampling2D", size=[10_000, 10_000])], "enlarges images more than 8 times a side"),
        ([_layer("CategoryEncoding", num_tokens=10**9)], "has num_tokens 1000000000"),
        ([{"class_name": "Functional", "config": {"layers": [_layer("Dense", units=True)]}}], "has units True"),
    ],
)
def test_a_model_config_asking_for_too_many_weights_is_refused_before_keras_builds_it(tmp_path, layers, message):
    path = _config_file(tmp_path / "crafted.keras", layers)
    with pytest.raises(ModelFileError) as refused:
        check_model_file(path)
    assert str(refused.value).startswith(f"{path}: ") and message in str(refused.value)


def test_an_embedding_of_one_label_per_image_is_sized_by_its_settings(tmp_path):
    check_model_file(_config_file(tmp_path / "label.keras", [_layer("Embedding", (None,), input_dim=100, output_dim=128)]))


def test_the_course_models_configs_pass():
    for path in sorted(Path(__file__).parents[1].glob("trained_models/*.keras")):
        check_model_file(path)


def test_staged_outputs_replace_the_old_set_together_or_not_at_all(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    (tmp_path / "run.json").write_text("old")
    with pytest.raises(RuntimeError):
        with files.staged_outputs(tmp_path, last="run.json") as staging:
            (staging / "a.txt").write_text("new")
            raise RuntimeError("interrupted before the set was complete")
    assert [(tmp_path / name).read_text() for name in ("a.txt", "run.json")] == ["old", "old"]
    assert not (tmp_path / files.STAGED).exists()
    with files.staged_outputs(tmp_path, last="run.json") as staging:
        (staging / "sub").mkdir()
        for name in ("a.txt", "run.json", "sub/b.txt"):
            (staging / name).write_text("new")
    assert [(tmp_path / name).read_text() for name in ("a.txt", "run.json", "sub/b.txt")] == ["new"] * 3
    assert not (tmp_path / files.STAGED).exists()


def test_a_move_interrupted_after_the_set_was_complete_is_finished_later(tmp_path):
    staging = tmp_path / files.STAGED
    staging.mkdir()
    (staging / "a.txt").write_text("new")
    assert files.finish_staged_outputs(tmp_path) and not (tmp_path / "a.txt").exists()  # incomplete: dropped
    staging.mkdir()
    (staging / "a.txt").write_text("new")
    (staging / files.STAGED_COMPLETE).touch()
    assert files.finish_staged_outputs(tmp_path) and (tmp_path / "a.txt").read_text() == "new"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.txt"]


def test_only_the_leftovers_of_one_target_are_removed_when_asked(tmp_path):
    mine, other = tmp_path / ".big.partial-abc.npz", tmp_path / ".other.partial-abc.npz"
    for path in (mine, other):
        path.write_bytes(b"x")
    assert remove_partial_files(tmp_path, tmp_path / "big.npz") == 1
    assert not mine.exists() and other.exists()
