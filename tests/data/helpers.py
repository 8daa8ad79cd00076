"""Shared helpers of the sympo_ext.data tests."""

from __future__ import annotations

import json


def msgs(role, content):
    return [{"role": role, "content": content}]


def conv(prompt, chosen, rejected, **kw):
    return dict(
        prompt=msgs("user", prompt), chosen=msgs("assistant", chosen), rejected=msgs("assistant", rejected), **kw
    )


def ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def write_jsonl(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path
