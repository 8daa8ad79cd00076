"""``--config FILE``: a YAML (.yaml/.yml) or JSON file of option values, read into a dict with the
keys :class:`~sympo_ext.train.config.TrainConfig` uses; every error is one line naming the file
(and line:column where the parser gives one)."""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import ConfigError

__all__ = ["load_config_file"]


def _yaml_error(path: str, e) -> ConfigError:
    """One line: ``path:line:column: invalid YAML: what`` (the parser's own message spans lines)."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
    what = " ".join(str(x) for x in (getattr(e, "problem", None), getattr(e, "context", None)) if x) or str(e)
    return ConfigError(f"--config {where}: invalid YAML: {' '.join(what.split())}")


def load_config_file(path: str) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or JSON config file into a dict of option values."""
    if not os.path.isfile(path):
        raise ConfigError(f"--config {path!r}: no such file")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as e:
        raise ConfigError(f"--config {path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError as e:  # pragma: no cover - pyyaml is in the train extra
            raise ConfigError("YAML config files need pyyaml: pip install 'sympo_ext[train]'") from e
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise _yaml_error(path, e) from None
    else:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"--config {path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"--config {path!r}: expected a mapping of option: value, got {type(values).__name__}")
    return {str(k).replace("-", "_"): v for k, v in values.items()}
