"""Scan every causal-LM class of the installed transformers: which log-prob paths are right?

For each class of ``MODEL_FOR_CAUSAL_LM_MAPPING_NAMES`` that builds as a tiny random
model (hidden 32, 2 layers, initializer_range 0.2; nothing downloaded), run
``sympo_ext.hf.probe.plan_logps`` with both candidates probed (fused-linear
vs logits; one packed row vs the same sequences padded) and record what the probe
measured and what the known-attribute fast rules alone would have said.

    OMP_NUM_THREADS=1 python benchmarks/scan_logps_paths.py [--only llama,gpt2] [--csv PATH]

Prints a table and the totals quoted in sympo_ext/train/README.md; writes a CSV
(default benchmarks/results/scan_logps_paths.csv). A few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the log-prob tests' tiny models
from _common import print_table, write_csv
from _tiny_models import build_tiny


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def scan_one(model_type: str, class_name: str) -> dict:
    from sympo_ext.hf import probe as logps_probe
    from sympo_ext.hf.heads import post_processing_reason, split_decoder_head

    row = {
        "model_type": model_type,
        "class": class_name,
        "builds": False,
        "fused_split": "",
        "fused_ok": "",
        "head_transform": "",
        "fast_rule": "",
        "packed_ok": "",
        "path": "",
        "note": "",
    }
    try:
        model = build_tiny(model_type, class_name).eval()
    except _Timeout:
        row["note"] = "build: timeout"
        return row
    except Exception as e:
        row["note"] = f"build: {type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"
        return row
    row["builds"] = True
    parts = split_decoder_head(model)
    row["fused_split"] = parts is not None
    row["head_transform"] = parts is not None and parts.transform is not None
    row["fast_rule"] = post_processing_reason(model) or ""
    saved = logps_probe.post_processing_reason, logps_probe.attention_skips_cross_sequence_blocks
    # Probe both candidates: fast rules off, packing considered whatever the attention.
    logps_probe.post_processing_reason = lambda m: None
    logps_probe.attention_skips_cross_sequence_blocks = lambda m: True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = logps_probe.plan_logps(model, logps_path="auto", packed="auto", pad_token_id=0)
        fused = plan.probed.get("fused_linear")
        row["fused_ok"] = "" if fused is None else fused["ok"]
        row["packed_ok"] = plan.probed.get("packed", {}).get("ok", "")
        row["path"] = plan.path
        row["note"] = "; ".join(n[:90] for n in plan.notes)
    except _Timeout:
        row["note"] = "probe: timeout"
    except Exception as e:
        row["note"] = f"probe: {type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"
    finally:
        logps_probe.post_processing_reason, logps_probe.attention_skips_cross_sequence_blocks = saved
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated model types")
    ap.add_argument("--csv", default=str(Path(__file__).resolve().parent / "results" / "scan_logps_paths.csv"))
    ap.add_argument("--timeout", type=int, default=60, help="seconds per model")
    args = ap.parse_args()
    torch.set_num_threads(1)
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    only = {s for s in args.only.split(",") if s}
    items = sorted((t, c) for t, c in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.items() if not only or t in only)
    signal.signal(signal.SIGALRM, _alarm)
    rows, t0 = [], time.time()
    for model_type, class_name in items:
        if isinstance(class_name, (list, tuple)):
            class_name = class_name[0]
        signal.alarm(args.timeout)
        try:
            rows.append(scan_one(model_type, class_name))
        finally:
            signal.alarm(0)
    print_table(
        rows,
        [
            "model_type",
            "class",
            "builds",
            "fused_split",
            "head_transform",
            "fast_rule",
            "fused_ok",
            "packed_ok",
            "path",
            "note",
        ],
    )
    built = [r for r in rows if r["builds"]]
    probed = [r for r in built if r["path"]]
    fused_probed = [r for r in probed if r["fused_ok"] != ""]
    missed = [r["model_type"] for r in fused_probed if r["fused_ok"] is False and not r["fast_rule"]]
    over = [r["model_type"] for r in fused_probed if r["fused_ok"] is True and r["fast_rule"]]
    packed_bad = [r["model_type"] for r in probed if r["packed_ok"] is False]
    print(
        f"\ntransformers {transformers.__version__}, torch {torch.__version__}: {len(items)} causal-LM classes, "
        f"{len(built)} build tiny, {len(probed)} probed ({time.time() - t0:.0f} s)"
    )
    print(
        f"fused-linear split available: {len(fused_probed)}; probe accepts it: "
        f"{sum(r['fused_ok'] is True for r in fused_probed)}; rejects it: "
        f"{sum(r['fused_ok'] is False for r in fused_probed)}"
    )
    heads = [r["model_type"] for r in fused_probed if r["head_transform"] is True]
    print(
        f"  heads with a transform before the projection: {len(heads)}, accepted by the probe: "
        f"{sum(r['fused_ok'] is True for r in fused_probed if r['head_transform'] is True)} {heads}"
    )
    print(f"  rejected although no known attribute says so (only the probe catches): {len(missed)} {missed}")
    print(f"  accepted although a fast rule objects: {len(over)} {over}")
    print(
        f"packed == padded: {sum(r['packed_ok'] is True for r in probed)}; differs (or fails): "
        f"{len(packed_bad)} {packed_bad}"
    )
    write_csv(Path(args.csv), rows)
    print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
