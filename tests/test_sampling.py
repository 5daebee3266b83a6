"""Drawing from a generator: in batches, and never from a model that is not a generator or draws NaN."""

import keras
import numpy as np
import pytest
from one_line import one_line_error

from ganutils import sampling
from ganutils.files import ModelFileError
from ganutils.models import build_mlp_generator
from ganutils.sampling import fixed_noise, generate_images, load_generator, sample_images


@pytest.fixture(scope="module")
def generator():
    return build_mlp_generator(latent_dim=8, num_classes=10, hidden_units=(8,))


def test_many_images_are_drawn_in_batches_from_the_same_noise(generator, monkeypatch):
    monkeypatch.setattr(sampling, "SAMPLE_BATCH", 7)
    drawn = []
    original_predict = generator.predict
    monkeypatch.setattr(generator, "predict", lambda inputs, **kw: drawn.append(len(inputs[0])) or original_predict(inputs, **kw))
    images, labels = sample_images(generator, 20, seed=3)
    assert drawn == [7, 7, 6]
    whole = generate_images(generator, fixed_noise(generator, 20, seed=3), np.arange(20) % 10)[..., 0]
    np.testing.assert_allclose(images, whole, atol=1e-6)  # the same noise; batches of other sizes round differently
    assert labels.tolist() == [i % 10 for i in range(20)]


def test_a_model_whose_output_is_not_an_image_is_refused(tmp_path, run_cli):
    noise = keras.Input((8,))
    keras.Model(noise, keras.layers.Dense(10)(noise)).save(tmp_path / "classifier.keras")
    with pytest.raises(ModelFileError, match=r"classifier.keras: not a generator \(its output is float32 shaped \(None, 10\), not floats"):
        load_generator(tmp_path / "classifier.keras")
    status, _, stderr = run_cli("sample", tmp_path / "classifier.keras", "--n", 4, "--out", tmp_path / "x.png")
    assert status == 1
    one_line_error(stderr, "classifier.keras: not a generator")
    assert not (tmp_path / "x.png").exists()


def test_a_generator_drawing_nan_is_refused_by_sample_and_evaluate(generator, idx_dir, tmp_path, run_cli):
    folder = tmp_path / "outputs"  # idx_dir is tmp_path
    folder.mkdir()
    broken = keras.models.clone_model(generator)
    broken.set_weights([np.full_like(w, np.nan) for w in generator.get_weights()])
    broken.save(folder / "nan.keras")
    for command in (["sample", folder / "nan.keras", "--n", 4, "--out", folder / "x.npz"],
                    ["evaluate", folder / "nan.keras", "--n", 10, "--data-dir", idx_dir, "--json", folder / "x.json"]):
        status, _, stderr = run_cli(*command)
        assert status == 1
        one_line_error(stderr, f"{folder / 'nan.keras'}: the generator draws images with NaN or infinite pixels")
    assert sorted(p.name for p in folder.iterdir()) == ["nan.keras"]


def _unusable_generators():
    """Models whose inputs or outputs `sample` and `evaluate` cannot use, and what the refusal says."""
    noise, label = keras.Input((8,)), keras.Input((), dtype="int32")
    image = lambda x: keras.layers.Reshape((28, 28, 1))(keras.layers.Dense(784)(x))  # noqa: E731
    unknown_width = keras.Input((None,))
    few_rows = keras.layers.Flatten()(keras.layers.Embedding(5, 4, name="embedding")(label))
    float_label = keras.Input((3,))
    no_width = keras.Input((0,))
    return {
        "noise of unknown width": (keras.Model(unknown_width, keras.layers.Reshape((28, 28, 1))(
            keras.layers.UpSampling1D(1)(keras.layers.Reshape((-1, 1))(unknown_width)))),
            "its noise input is float32 shaped (None, None)"),
        "noise of width 0": (keras.Model(no_width, image(no_width)), "shaped (None, 0)"),
        "an embedding of 5 rows": (keras.Model([noise, label], image(keras.layers.Concatenate()([noise, few_rows]))),
                                   "its layer 'embedding' takes 5 classes of labels, fewer than the 10 digits"),
        "a float label of 3 numbers": (keras.Model([noise, float_label], image(keras.layers.Concatenate()([noise, float_label]))),
                                       "its label input is float32 shaped (None, 3); expected whole numbers shaped (None,)"),
    }


def test_a_generator_the_course_cannot_use_is_refused_from_its_specs(tmp_path):
    for name, (model, message) in _unusable_generators().items():
        path = tmp_path / f"{name.replace(' ', '_')}.keras"
        with pytest.raises(ModelFileError) as refused:
            sampling.check_generator(model, path)
        assert str(refused.value).startswith(f"{path}: ") and message in str(refused.value), name
