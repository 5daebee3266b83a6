"""The settings of a run: their types are checked before their ranges, and a stored config is read back whole."""

import pytest

from ganutils.config import ConfigError, TrainConfig


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"batch_size": "64"}, "batch_size: must be a whole number, got '64'"),
        ({"batch_size": True}, "batch_size: must be a whole number, got True"),
        ({"learning_rate": "fast"}, "learning_rate: must be a number, got 'fast'"),
        ({"alternating": 1}, "alternating: must be true or false, got 1"),
        ({"family": None}, "family: must be text, got None"),
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
