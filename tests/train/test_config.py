"""Option validation (sympo_ext.train.config)."""

from __future__ import annotations


import pytest

from sympo_ext.train.config import ConfigError
from sympo_ext.train.config import TrainConfig

from .helpers import cfg


def test_config_validation_messages():
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        cfg(batch_size=0).validate(need_model=False, need_data=False)
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        TrainConfig.from_dict({"learning_rat": 1.0})
    with pytest.raises(ConfigError, match="--resume and --overwrite"):
        cfg(resume=True, overwrite=True).validate(need_model=False, need_data=False)
