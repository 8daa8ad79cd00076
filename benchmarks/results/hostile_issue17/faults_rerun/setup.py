import json, sys
sys.path.insert(0, "/work/wt/d")
from tests.train.helpers import clean_records, synthetic, tiny_model
tok = synthetic.build_tokenizer()
m = tiny_model(tok)
m.save_pretrained("/tmp/d_faults/model"); tok.save_pretrained("/tmp/d_faults/model")
with open("/tmp/d_faults/big.jsonl", "w") as fh:
    for r in clean_records(256, seed=1):
        fh.write(json.dumps(r) + "\n")
