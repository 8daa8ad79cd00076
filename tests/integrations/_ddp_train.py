"""Worker of test_trl.py's 2-process test: trains trl.DPOTrainer and/or SymPOTrainer (logistic loss) on the
tiny Llama in 2 CPU processes and writes each rank's per-step losses to OUT/<which>_rank<k>.json.

  ACCELERATE_USE_CPU=true python -m torch.distributed.run --standalone --nproc_per_node 2 \
      tests/integrations/_ddp_train.py {trl|sympo|both} OUT

``--standalone`` lets the launcher's store pick a free port and hand it to the workers (``--master_port 0``
does not: the workers get MASTER_PORT=0 and wait forever in the rendezvous). A worker that is still running
after SYMPO_DDP_DUMP_AFTER seconds (default 90) prints every thread's stack and exits, so a hang shows where.
"""

from __future__ import annotations

import copy
import faulthandler
import json
import os
import sys
from pathlib import Path

import datasets
import torch
import trl

from sympo_ext.experiments.synthetic import build_tiny_llama, build_tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run as a script by the launcher
from _trl_setup import preference_rows, trl_options


def main(which: str, out: str, steps: int = 4) -> None:
    tokenizer = build_tokenizer()
    rows = preference_rows(tokenizer, n=32)
    # ddp_timeout: a collective that waits longer fails instead of hanging (default 1800 s)
    common = trl_options(str(Path(out) / which), max_steps=steps, per_device_train_batch_size=2, ddp_timeout=60)
    if which == "trl":
        cls, args = trl.DPOTrainer, trl.DPOConfig(loss_type=["sigmoid"], **common)
    elif which == "sympo":
        from sympo_ext.integrations.trl import SymPOConfig, SymPOTrainer

        cls, args = SymPOTrainer, SymPOConfig(sympo_loss_type="logistic", **common)
    else:
        raise ValueError(f"which must be 'trl', 'sympo' or 'both', got {which!r}")
    model = build_tiny_llama(tokenizer, seed=0)
    trainer = cls(
        model=model,
        ref_model=copy.deepcopy(model),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    losses = []
    compute_loss = trainer.compute_loss

    def recording(*a, **k):
        loss = compute_loss(*a, **k)
        losses.append(float(loss.detach()))
        return loss

    trainer.compute_loss = recording
    trainer.train()
    rank = trainer.accelerator.process_index
    world = trainer.accelerator.num_processes
    info = {
        "losses": losses,
        "world_size": world,
        "logps_path": getattr(trainer, "logps_path", None),
        "ref_logps_path": getattr(trainer, "ref_logps_path", None),
    }
    Path(out, f"{which}_rank{rank}.json").write_text(json.dumps(info))


if __name__ == "__main__":
    faulthandler.dump_traceback_later(float(os.environ.get("SYMPO_DDP_DUMP_AFTER", "90")), exit=True)
    torch.set_num_threads(1)
    for which in ("trl", "sympo") if sys.argv[1] == "both" else (sys.argv[1],):
        main(which, sys.argv[2])
