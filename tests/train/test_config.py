"""TrainConfig validation: every numeric option finite and in range, types, early environment checks."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest
import torch

from sympo_ext.train.config import ConfigError, TrainConfig, load_config_file

from .helpers import cfg

NAN, INF = float("nan"), float("inf")


def check(**kw):
    cfg(**kw).validate(need_model=False, need_data=False)


def test_config_validation_messages():
    # (moved from test_train.py, assertions kept)
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        cfg(batch_size=0).validate(need_model=False, need_data=False)
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        TrainConfig.from_dict({"learning_rat": 1.0})
    with pytest.raises(ConfigError, match="--resume and --overwrite"):
        cfg(resume=True, overwrite=True).validate(need_model=False, need_data=False)


FLOAT_FIELDS = [
    f.name
    for f in dataclasses.fields(TrainConfig)
    if float
    in (typing.get_args(typing.get_type_hints(TrainConfig)[f.name]) or (typing.get_type_hints(TrainConfig)[f.name],))
]
# Options that only apply with another option; given so the value itself is what gets checked.
CONTEXT = {
    "temperature": {"loss_type": "sigmoid"},
    "slope": {"loss_type": "symmetric_ramp"},
    "epsilon": {"loss_type": "rdpo"},
    "noise_eps_pos": {"noise_kind": "asymmetric"},
    "noise_eps_neg": {"noise_kind": "asymmetric"},
}


def test_every_float_option_is_listed():
    assert {
        "beta",
        "clip",
        "temperature",
        "slope",
        "epsilon",
        "learning_rate",
        "weight_decay",
        "adam_beta1",
        "adam_beta2",
        "adam_eps",
        "num_epochs",
        "warmup_ratio",
        "min_lr_ratio",
        "max_grad_norm",
        "eval_fraction",
        "label_noise",
        "noise_eps_pos",
        "noise_eps_neg",
    } <= set(FLOAT_FIELDS)


@pytest.mark.parametrize("value", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", FLOAT_FIELDS)
def test_non_finite_float_options_are_refused_by_name(name, value):
    with pytest.raises(ConfigError, match=f"--{name} must be a finite number, got {value}"):
        check(**{name: value, **CONTEXT.get(name, {})})


OUT_OF_RANGE = [
    ("beta", 0.0),
    ("beta", -0.1),
    ("beta", 1e300),
    ("clip", 0.0),
    ("clip", -1.0),
    ("temperature", 0.0),
    ("temperature", -1.0),
    ("slope", 0.0),
    ("epsilon", 0.5),
    ("epsilon", -0.1),
    ("learning_rate", -1e-3),
    ("weight_decay", -0.01),
    ("adam_beta1", 1.0),
    ("adam_beta1", -0.1),
    ("adam_beta2", 1.5),
    ("adam_eps", 0.0),
    ("adam_eps", -1e-8),
    ("max_grad_norm", -1.0),
    ("warmup_ratio", 1.5),
    ("min_lr_ratio", -0.1),
    ("min_lr_ratio", 2.0),
    ("num_epochs", -1.0),
    ("eval_fraction", 1.0),
    ("eval_fraction", -0.5),
    ("label_noise", 1.5),
    ("noise_eps_pos", 1.2),
    ("noise_eps_neg", -0.2),
    ("seed", -1),
    ("noise_seed", 2**64),
    ("max_length", 1),
    ("batch_size", 0),
    ("grad_accum", 0),
    ("save_steps", -1),
    ("chunk_size", 0),
]


@pytest.mark.parametrize("name,value", OUT_OF_RANGE, ids=[f"{n}={v}" for n, v in OUT_OF_RANGE])
def test_out_of_range_options_are_refused_by_name(name, value):
    with pytest.raises(ConfigError, match=f"--{name}"):
        check(**{name: value, **CONTEXT.get(name, {})})


def test_in_range_edges_are_accepted():
    check(
        adam_beta1=0.0,
        adam_beta2=0.0,
        weight_decay=0.0,
        max_grad_norm=0.0,
        learning_rate=0.0,
        warmup_ratio=1.0,
        min_lr_ratio=1.0,
        label_noise=1.0,
        eval_fraction=0.0,
    )
    check(loss_type="rdpo", epsilon=0.49)
    check(loss_type="sigmoid", temperature=3.0, beta=1e6, clip=5.0)


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("beta", "abc", "a number"),
        ("beta", None, "must be set"),
        ("batch_size", 8.5, "an integer"),
        ("batch_size", True, "an integer"),
        ("overwrite", "yes", "true or false"),
        ("beta", [0.1], "a number"),
        ("loss_type", 3, "a string"),
        ("learning_rate", True, "a number"),
    ],
)
def test_wrong_types_are_refused_by_name(name, value, expected):
    with pytest.raises(ConfigError, match=f"--{name} expects {expected}|--{name} {expected}"):
        check(**{name: value})


def test_numbers_written_as_strings_are_read_as_numbers(tmp_path):
    # YAML 1.1 reads 5e-7 (no dot) as a string: it is the number the user meant.
    path = tmp_path / "c.yaml"
    path.write_text("learning_rate: 5e-7\nbeta: 1\nmax_steps: '3'\nclip: null\n")
    c = TrainConfig.from_dict(load_config_file(str(path)))
    assert c.learning_rate == 5e-7 and isinstance(c.beta, float) and c.beta == 1.0 and c.max_steps == 3
    assert c.clip is None
    with pytest.raises(ConfigError, match="--max_steps expects an integer, got '3.5'"):
        TrainConfig.from_dict({"max_steps": "3.5"})
    with pytest.raises(ConfigError, match="--beta expects a number, got 'fast'"):
        TrainConfig.from_dict({"beta": "fast"})
    # 'nan' parses as a number, then validation names it
    with pytest.raises(ConfigError, match="--weight_decay must be a finite number, got nan"):
        TrainConfig.from_dict({"weight_decay": "nan"}).validate(need_model=False, need_data=False)
    assert math.isnan(TrainConfig.from_dict({"weight_decay": "nan"}).weight_decay)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_device_cuda_without_a_gpu_is_refused():
    with pytest.raises(ConfigError, match="--device cuda: no CUDA GPU"):
        check(device="cuda")


def test_model_directory_without_a_tokenizer(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="--model .* holds no tokenizer .*pass --tokenizer DIR"):
        cfg(model=str(tmp_path / "m")).validate(need_data=False)
    (tmp_path / "t").mkdir()
    with pytest.raises(ConfigError, match="--tokenizer .* holds no tokenizer"):
        cfg(model=str(tmp_path / "m"), tokenizer=str(tmp_path / "t")).validate(need_data=False)
    (tmp_path / "t" / "tokenizer.json").write_text("{}")
    cfg(model=str(tmp_path / "m"), tokenizer=str(tmp_path / "t")).validate(need_data=False)


@pytest.mark.parametrize(
    "name, text, where, what",
    [
        ("c.yaml", "beta: 0.1\n  loss_type: sigmoid\n", ":2:12", "mapping values are not allowed here"),
        ("c.yaml", "beta: 0.1\nloss_type: [sigmoid\nmax_steps: 3\n", ":3:10", "expected ',' or ']'"),
        ("c.json", '{"beta": 0.1,\n "max_steps" 3}', ":2:14", "Expecting ':' delimiter"),
        ("c.yaml", b"beta: 0.1\nloss_type: \xff\n", "", "not UTF-8 text"),
    ],
)
def test_an_invalid_config_file_is_one_line_with_its_position(tmp_path, capsys, name, text, where, what):
    # #18: the parser's multi-line message becomes one line: FILE:LINE:COLUMN and what is wrong.
    from sympo_ext.train.cli import main

    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["--config", str(path), "--print_config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"--config {path}{where}: " in err and what in err, err
