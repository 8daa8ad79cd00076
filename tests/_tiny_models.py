"""Tiny random transformers models (hidden 32, 2 layers, initializer_range 0.2; nothing downloaded): the one
factory of the log-prob tests (tests/hf, tests/train) and of benchmarks/scan_logps_paths.py.

Import as ``from _tiny_models import build_tiny`` (tests/ is on the path of every test; the scan adds it).
"""

from __future__ import annotations

import torch

V = 97
# The sizes of every architecture under the names its config uses; a config takes the ones it has.
TINY = dict(
    vocab_size=V,
    hidden_size=32,
    n_embd=32,
    d_model=32,
    num_hidden_layers=2,
    n_layer=2,
    num_layers=2,
    num_attention_heads=2,
    n_head=2,
    num_heads=2,
    num_key_value_heads=2,
    intermediate_size=64,
    ffn_dim=64,
    n_inner=64,
    head_dim=16,
    initializer_range=0.2,
    init_std=0.2,
    max_position_embeddings=64,
    n_positions=64,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
    num_local_experts=4,
    num_experts=4,
    num_experts_per_tok=2,
    word_embed_proj_dim=32,
    state_size=8,
    rotary_dim=8,
    qk_rope_head_dim=8,
    qk_nope_head_dim=8,
    v_head_dim=16,
    kv_lora_rank=16,
    q_lora_rank=16,
    experts_implementation="eager",
)
MAX_PARAMS = 2_000_000
# Rotary / multi-head-latent-attention sizes that must shrink with head_dim (GPT-J, CodeGen, DeepSeek).
ATTENTION_DIMS = ("rotary_dim", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "kv_lora_rank", "q_lora_rank")


def tiny_config(model_type: str, **overrides):
    """The config of a tiny ``model_type`` (a key of transformers' CONFIG_MAPPING): the :data:`TINY` sizes
    its config class has, then ``overrides``. A config that refuses the attention sizes is built without
    them."""
    from transformers import CONFIG_MAPPING

    config_cls = CONFIG_MAPPING[model_type]
    default = config_cls()
    kwargs = {k: v for k, v in TINY.items() if hasattr(default, k)}
    kwargs["experts_implementation"] = "eager"  # grouped_mm: no small-shape CPU path, and no float64
    kwargs.update(overrides)
    try:
        return config_cls(**kwargs)
    except Exception:
        return config_cls(**{k: v for k, v in kwargs.items() if k not in ATTENTION_DIMS or k in overrides})


def build_tiny(model_type: str, class_name: str, *, seed: int = 0, **overrides) -> torch.nn.Module:
    """A tiny random ``transformers.<class_name>`` of :func:`tiny_config` (``model_type``, ``overrides``),
    initialised from ``seed`` (the global RNG is left alone). ValueError if the overrides leave it larger
    than :data:`MAX_PARAMS` (a size the config ignores)."""
    import transformers

    config = tiny_config(model_type, **overrides)
    model_cls = getattr(transformers, class_name)
    with torch.device("meta"):  # count first: an override the config ignores can leave it huge
        size = sum(p.numel() for p in model_cls(config).parameters())
    if size > MAX_PARAMS:
        raise ValueError(f"not tiny with these overrides ({size / 1e6:.0f} M parameters)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_cls(config)
