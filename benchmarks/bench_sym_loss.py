"""Benchmark: fused sym_loss forward+backward vs the eager and compiled references.

    python benchmarks/bench_sym_loss.py --device cpu [--quick] [--threads 2] [--out benchmarks/results]

On a small shared CPU run it with OMP_WAIT_POLICY=PASSIVE: the eager, fused and
compiled (inductor's own OpenMP) code alternate, and with the default policy the
idle threads of one pool spin on the cores the next one needs.

For three kinds of objective -- a margin loss (sigmoid, clip 5), a (c, r) loss
(bco_pair) and a weighted combination (MPO-style logistic + 0.5 bco_pair) -- and
every batch size B (1e3 .. 1e6 pairs on the CPU, .. 1e7 on CUDA) it times
forward+backward of
  * fused      sympo_ext.sym_loss (one forward launch, one backward launch)
  * eager      sympo_ext.reference.sym_loss in plain PyTorch
  * compiled   torch.compile(sympo_ext.reference.sym_loss)
with fp32 policy and reference log-probs, labels and gradients to the policy
log-probs. On CUDA it also reports the fused op's achieved bandwidth against
the device's measured copy bandwidth (bytes read + written). Prints a table and
writes CSV (and a PNG when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import copy_bandwidth_gbs, machine_name, print_table, time_fn, write_csv  # noqa: E402

import sympo_ext  # noqa: E402
from sympo_ext import reference  # noqa: E402

LOSSES = {
    "margin:sigmoid": dict(loss_type="sigmoid", beta=0.1, clip=5.0),
    "pair:bco_pair": dict(loss_type="bco_pair", beta=0.1),
    "combo:logistic+0.5bco_pair": dict(loss_type=["logistic", "bco_pair"], loss_weights=[1.0, 0.5], beta=0.1),
}


def fused_bytes(n: int) -> int:
    """Fewest bytes the fused forward+backward must move (fp32 log-probs, int64 labels):
    forward reads 4 log-probs + a label, writes grad_coef (2) + rewards (3);
    backward reads grad_coef (2) and writes 2 policy gradients."""
    return n * (4 * 4 + 8 + 5 * 4 + 2 * 4 + 2 * 4)


def make_inputs(n: int, device: str):
    g = torch.Generator(device="cpu").manual_seed(0)
    pc, pr, rc, rr = (torch.randn(n, generator=g) * 8 for _ in range(4))
    labels = torch.randint(0, 2, (n,), generator=g)
    pc, pr = (t.to(device).requires_grad_(True) for t in (pc, pr))
    rc, rr, labels = (t.to(device) for t in (rc, rr, labels))
    return pc, pr, rc, rr, labels


def fastest_ms(fn, device: str, reps: int) -> float:
    """The fastest of `reps` calls (after 3 warm-up calls), in ms: on a shared CPU other
    processes only ever add time, so the minimum is the least noisy estimate."""
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(reps):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best


def step_fn(loss_fn, options, pc, pr, rc, rr, labels):
    def step():
        loss = loss_fn(pc, pr, rc, rr, labels=labels, **options)
        torch.autograd.grad(loss, (pc, pr))

    return step


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="B up to 1e5 only, fewer repetitions")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds per size; the fastest is kept (robust on a shared machine)")
    parser.add_argument("--stat", choices=["median", "min"], default="min",
                        help="per round: median of the repetitions, or the fastest (default; load only adds time)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
        torch._inductor.config.compile_threads = 1  # no compile-worker processes competing for the cores

    sizes = [10**3, 10**4, 10**5] if args.quick else [10**3, 10**4, 10**5, 10**6]
    if args.device == "cuda" and not args.quick:
        sizes.append(10**7)
    reps = 5 if args.quick else 20
    compiled_ref = None if args.no_compile else torch.compile(reference.sym_loss, dynamic=False)
    peak = copy_bandwidth_gbs(args.device) if args.device == "cuda" else None
    threads = f", {torch.get_num_threads()} threads" if args.device == "cpu" else ""
    print(f"# sym_loss forward+backward on {machine_name(args.device)}{threads}")
    if peak:
        print(f"# measured copy bandwidth (read+write): {peak:.0f} GB/s")

    rows = []
    for name, options in LOSSES.items():
        for n in sizes:
            inputs = make_inputs(n, args.device)
            row = {"device": args.device, "loss": name, "B": n}
            fns = {"fused_ms": step_fn(sympo_ext.sym_loss, options, *inputs),
                   "eager_ms": step_fn(reference.sym_loss, options, *inputs)}
            if compiled_ref is not None:
                torch._dynamo.reset()
                fns["compiled_ms"] = step_fn(compiled_ref, options, *inputs)
            for _ in range(args.rounds):  # interleaved, so a burst of load hits every method alike
                for key, fn in fns.items():
                    t = time_fn(fn, args.device, reps=reps) if args.stat == "median" else fastest_ms(fn, args.device, reps)
                    row[key] = min(row.get(key, float("inf")), t)
            if compiled_ref is not None:
                row["vs_compiled"] = row["compiled_ms"] / row["fused_ms"]
            row["vs_eager"] = row["eager_ms"] / row["fused_ms"]
            row["fused_GBps"] = fused_bytes(n) / (row["fused_ms"] * 1e-3) / 1e9
            if peak:
                row["pct_of_copy_bw"] = 100 * row["fused_GBps"] / peak
            rows.append(row)
            print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                  flush=True)
    slow = [r for r in rows if r["B"] >= 10**4 and r["vs_eager"] < 1.0]
    if slow:
        print("WARNING: fused slower than eager at", [(r["loss"], r["B"]) for r in slow])

    columns = list(rows[-1])
    print()
    print_table(rows, columns)
    out = args.out / f"sym_loss_{args.device}.csv"
    write_csv(out, rows)
    print(f"wrote {out}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name in LOSSES:
            sub = [r for r in rows if r["loss"] == name]
            for key, style in (("fused_ms", "-"), ("eager_ms", "--"), ("compiled_ms", ":")):
                if key in sub[0]:
                    ax.loglog([r["B"] for r in sub], [r[key] for r in sub], style, marker="o",
                              label=f"{name} {key[:-3]}")
        ax.set_xlabel("pairs B")
        ax.set_ylabel("forward+backward (ms)")
        ax.set_title(f"sym_loss on {args.device}")
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(args.out / f"sym_loss_{args.device}.png", dpi=100)
        print(f"wrote {args.out / f'sym_loss_{args.device}.png'}")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
