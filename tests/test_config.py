"""The settings of a run: their types are checked before their ranges, and a stored config is read back whole."""

import pytest

from ganutils.config import FAMILIES, RECIPE_SETTINGS, RECIPES, SELF_CONDITIONED_DCGAN, SEED, ConfigError, TrainConfig


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"batch_size": "64"}, "batch_size: must be a whole number, got '64'"),
        ({"batch_size": True}, "batch_size: must be a whole number, got True"),
        ({"learning_rate": "fast"}, "learning_rate: must be a number, got 'fast'"),
        ({"alternating": 1}, "alternating: must be true or false, got 1"),
        ({"family": None}, "family: must be text, got None"),
        ({"max_shift": 1.5}, "max_shift: must be a whole number, got 1.5"),
        ({"ema_decay": "none"}, "ema_decay: must be a number, got 'none'"),
    ],
)
def test_a_setting_of_the_wrong_type_is_a_config_error(settings, message):
    with pytest.raises(ConfigError) as refused:
        TrainConfig(**settings)
    assert str(refused.value) == message


def test_a_whole_number_is_a_number():
    assert TrainConfig(ema_decay=0).ema_decay == 0


def test_from_dict_reads_back_as_dict_and_nothing_else_and_fills_what_an_older_file_lacks():
    config = TrainConfig(family="gan", batch_size=7)
    assert TrainConfig.from_dict(config.as_dict()) == config
    with pytest.raises(ConfigError, match="colour: is not a setting"):
        TrainConfig.from_dict({**config.as_dict(), "colour": 1})
    assert TrainConfig.from_dict({k: v for k, v in config.as_dict().items() if k != "seed"}) == config
    with pytest.raises(ConfigError, match="family: is missing"):
        TrainConfig.from_dict({k: v for k, v in config.as_dict().items() if k != "family"})
    with pytest.raises(ConfigError, match="config: must be a dict of settings, got list"):
        TrainConfig.from_dict([])


@pytest.mark.parametrize("family", FAMILIES)
def test_a_config_takes_what_it_is_not_given_from_its_familys_recipe(family):
    config = TrainConfig(family=family)
    assert {name: getattr(config, name) for name in RECIPE_SETTINGS} == {name: RECIPES[family][name] for name in RECIPE_SETTINGS}
    assert config.recipe_steps == RECIPES[family]["steps"] and config.seed == SEED
    assert TrainConfig(family=family, ema_decay=0.5, max_shift=1).recipe_steps == RECIPES[family]["steps"]
    assert (TrainConfig(family=family, ema_decay=0.5).ema_decay, TrainConfig(family=family, max_shift=1).max_shift) == (0.5, 1)


def test_a_self_conditioned_dcgan_has_a_recipe_of_its_own():
    assert TrainConfig(family="dcgan", clusters=50).recipe is RECIPES[SELF_CONDITIONED_DCGAN]
    assert TrainConfig(family="gan", clusters=30).recipe is RECIPES["gan"]


def test_a_label_input_is_one_of_two_and_a_bias_only_for_the_convolutional_models():
    with pytest.raises(ConfigError, match="label_input: choose one of one_hot, bias, got 'planes'"):
        TrainConfig(label_input="planes")
    with pytest.raises(ConfigError, match="label_input: bias is for the convolutional models \\(dcgan and cdcgan\\), not cgan"):
        TrainConfig(family="cgan", label_input="bias")
    assert TrainConfig(family="dcgan", clusters=100).label_input == "bias"


def test_a_negative_halflife_is_refused():
    with pytest.raises(ConfigError, match="halflife: must be 0 \\(constant\\) or positive, got -1"):
        TrainConfig(halflife=-1)


@pytest.mark.parametrize("shift", [-1, 8])
def test_a_shift_outside_its_range_is_refused(shift):
    with pytest.raises(ConfigError, match=f"max_shift: must be from 0 to 7, got {shift}"):
        TrainConfig(max_shift=shift)


def test_an_unknown_family_is_refused_before_its_recipe_is_looked_up():
    with pytest.raises(ConfigError, match="family: choose one of gan, cgan, dcgan, cdcgan, got 'wgan'"):
        TrainConfig(family="wgan")


@pytest.mark.parametrize("family, clusters, shift", [("dcgan", 0, 2), ("dcgan", 50, 0), ("cdcgan", 0, 0), ("gan", 0, 0)])
def test_a_file_written_before_the_shift_and_the_average_were_settings_gets_what_it_trained_with(family, clusters, shift):
    older = {"family": family, "clusters": clusters, "learning_rate": 1e-3}
    config = TrainConfig.from_dict(older)
    assert (config.max_shift, config.ema_decay, config.halflife, config.label_input) == (shift, 0.999, 0, "one_hot")
