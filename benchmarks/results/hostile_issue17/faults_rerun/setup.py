"""Writes the tiny model and the 256 pairs the fault scripts use (run from the worktree root)."""

import json
import sys

sys.path.insert(0, ".")
from tests.train.helpers import clean_records, synthetic, tiny_model

tok = synthetic.build_tokenizer()
m = tiny_model(tok)
m.save_pretrained("/tmp/d_faults/model")
tok.save_pretrained("/tmp/d_faults/model")
with open("/tmp/d_faults/big.jsonl", "w") as fh:
    for r in clean_records(256, seed=1):
        fh.write(json.dumps(r) + "\n")
