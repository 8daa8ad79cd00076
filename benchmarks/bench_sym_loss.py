"""Benchmark: fused sym_loss forward+backward vs the eager and compiled references.

    python benchmarks/bench_sym_loss.py --device cpu [--quick] [--threads 2] [--baseline_python PY]
                                        [--out benchmarks/results]

On a small shared CPU run it with OMP_WAIT_POLICY=PASSIVE: the eager, fused and
compiled (inductor's own OpenMP) code alternate, and with the default policy the
idle threads of one pool spin on the cores the next one needs.

For every kind of objective -- margin (sigmoid, clip 5), pair (nca_pair, bco_pair),
batch (aot, aot_unpaired: on the CPU one op that sorts inside, elsewhere a torch.sort + one fused launch) and a weighted
combination (MPO-style logistic + 0.5 bco_pair) -- and every batch size B
(1e3 .. 1e6 pairs on the CPU, .. 1e7 on CUDA) it times forward+backward of
  * fused      sympo_ext.sym_loss (one forward launch, one backward launch)
  * eager      sympo_ext.reference.sym_loss in plain PyTorch
  * compiled   torch.compile(sympo_ext.reference.sym_loss)
with fp32 policy and reference log-probs, int64 labels and gradients to the policy
log-probs, and the copy-bandwidth floor: a tensor copy moving the bytes the fused
op must move (48 B per pair, fused_bytes) on the same machine, with the share of
it the fused op reaches (floor_ms / fused_ms). The copy is timed in every round beside
the losses; each B's floor is the fastest copy of the whole run.

``--baseline_python``: also time the fused op with another interpreter (e.g. a venv
whose ``sympo_ext`` is an earlier checkout), in a child process run right after this
one measures the same loss, so "before" and "after" are measured side by side in one
run. Prints a table and writes CSV, a markdown table and a PNG (with matplotlib).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_name, markdown_table, print_table, write_csv

import sympo_ext
from sympo_ext import reference

LOSSES = {
    "margin:sigmoid": dict(loss_type="sigmoid", beta=0.1, clip=5.0),
    "pair:nca_pair": dict(loss_type="nca_pair", beta=0.1),
    "pair:bco_pair": dict(loss_type="bco_pair", beta=0.1),
    "batch:aot": dict(loss_type="aot", beta=0.1),
    "batch:aot_unpaired": dict(loss_type="aot_unpaired", beta=0.1),
    "combo:logistic+0.5bco_pair": dict(loss_type=["logistic", "bco_pair"], loss_weights=[1.0, 0.5], beta=0.1),
}


def fused_bytes(n: int) -> int:
    """Fewest bytes the fused forward+backward must move (fp32 log-probs, int64 labels):
    forward reads 4 log-probs + a label and writes grad_coef (2); backward reads grad_coef (2)
    and writes 2 policy gradients. The rewards are not asked for here, so the kernel does not
    write them (it did before: 60 B per pair, the floor of earlier tables)."""
    return n * (4 * 4 + 8 + 2 * 4 + 2 * 4 + 2 * 4)


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


def copy_fn(n: int, device: str):
    """A tensor copy reading and writing fused_bytes(n) in all: the bandwidth floor."""
    src = torch.empty(fused_bytes(n) // 8, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    return lambda: dst.copy_(src)


def step_fn(loss_fn, options, pc, pr, rc, rr, labels):
    def step():
        loss = loss_fn(pc, pr, rc, rr, labels=labels, **options)
        torch.autograd.grad(loss, (pc, pr))

    return step


def time_fused(name: str, sizes, device: str, reps: int, rounds: int) -> dict[int, float]:
    """Fused forward+backward time per B (the child's whole job with --baseline_python)."""
    out = {}
    for n in sizes:
        fn = step_fn(sympo_ext.sym_loss, LOSSES[name], *make_inputs(n, device))
        out[n] = min(fastest_ms(fn, device, reps) for _ in range(rounds))
    return out


def run_baseline(python: str, name: str, sizes, args) -> dict[int, float]:
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--sizes",
        ",".join(map(str, sizes)),
        "--device",
        args.device,
        "--threads",
        str(args.threads),
        "--reps",
        str(args.reps),
        "--rounds",
        str(args.rounds),
    ]
    # cwd="/": the child imports the sympo_ext installed in its own environment, never this checkout.
    res = subprocess.run(cmd, capture_output=True, text=True, cwd="/", env=os.environ.copy())
    if res.returncode != 0:
        raise RuntimeError(f"baseline run failed ({python}):\n{res.stderr[-2000:]}")
    return {int(k): v for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="B up to 1e5 only, fewer repetitions")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds per size; the fastest is kept (robust on a shared machine)",
    )
    parser.add_argument("--reps", type=int, default=None, help="timed calls per round (default 20, --quick 5)")
    parser.add_argument("--losses", default=",".join(LOSSES), help="comma-separated subset of " + ", ".join(LOSSES))
    parser.add_argument("--sizes", help="comma-separated batch sizes (default 1e3 .. 1e6, CUDA .. 1e7)")
    parser.add_argument("--baseline_python", help="interpreter of the earlier code to compare against")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
        torch._inductor.config.compile_threads = 1  # no compile-worker processes competing for the cores
    if args.sizes:
        sizes = [int(float(s)) for s in args.sizes.split(",")]
    else:
        sizes = [10**3, 10**4, 10**5] if args.quick else [10**3, 10**4, 10**5, 10**6]
        if args.device == "cuda" and not args.quick:
            sizes.append(10**7)
    if args.reps is None:
        args.reps = 5 if args.quick else 20
    if args.child:
        print(json.dumps(time_fused(args.child, sizes, args.device, args.reps, args.rounds)))
        return
    names = args.losses.split(",")
    unknown = sorted(set(names) - set(LOSSES))
    if unknown:
        parser.error(f"unknown --losses {unknown}; valid: {', '.join(LOSSES)}")

    compiled_ref = None if args.no_compile else torch.compile(reference.sym_loss, dynamic=False)
    threads = f", {torch.get_num_threads()} threads" if args.device == "cpu" else ""
    load = f", load average {os.getloadavg()[0]:.2f} at start" if args.device == "cpu" else ""
    print(f"# sym_loss forward+backward on {machine_name(args.device)}{threads}{load}")
    # The copy is timed in every round beside the losses, and each B's floor is the fastest copy of
    # the whole run: on a shared machine a floor read once can catch a slow moment, which would
    # flatter every share.
    copies = {n: copy_fn(n, args.device) for n in sizes}
    floors = {n: fastest_ms(fn, args.device, args.reps) for n, fn in copies.items()}

    rows = []
    for name in names:
        options = LOSSES[name]
        for n in sizes:
            inputs = make_inputs(n, args.device)
            row = {"device": args.device, "loss": name, "B": n}
            fns = {
                "floor_ms": copies[n],
                "fused_ms": step_fn(sympo_ext.sym_loss, options, *inputs),
                "eager_ms": step_fn(reference.sym_loss, options, *inputs),
            }
            if compiled_ref is not None:
                torch._dynamo.reset()
                fns["compiled_ms"] = step_fn(compiled_ref, options, *inputs)
            for _ in range(args.rounds):  # interleaved, so a burst of load hits every method alike
                for key, fn in fns.items():
                    row[key] = min(row.get(key, float("inf")), fastest_ms(fn, args.device, args.reps))
            floors[n] = min(floors[n], row["floor_ms"])
            rows.append(row)
        if args.baseline_python:  # right after this loss's rows: the same machine state
            for row, (_n, ms) in zip(
                rows[-len(sizes) :], run_baseline(args.baseline_python, name, sizes, args).items()
            ):
                row["before_fused_ms"] = ms
        for row in rows[-len(sizes) :]:  # progress; the ratios follow once the run's floor is known
            print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    print(
        "# copy-bandwidth floor (the fastest tensor copy of fused_bytes = 48 B per pair in the run): "
        + ", ".join(f"B={n}: {ms:.4g} ms ({fused_bytes(n) / (ms * 1e-3) / 1e9:.0f} GB/s)" for n, ms in floors.items()),
        flush=True,
    )
    for row in rows:
        row["floor_ms"] = floors[row["B"]]
        if compiled_ref is not None:
            row["vs_compiled"] = row["compiled_ms"] / row["fused_ms"]
            if "before_fused_ms" in row:
                row["before_vs_compiled"] = row["compiled_ms"] / row["before_fused_ms"]
        row["vs_eager"] = row["eager_ms"] / row["fused_ms"]
        if "before_fused_ms" in row:
            row["vs_before"] = row["before_fused_ms"] / row["fused_ms"]
        row["floor_share"] = row["floor_ms"] / row["fused_ms"]
    slow = [(r["loss"], r["B"]) for r in rows if r["B"] >= 10**4 and r.get("vs_compiled", 1.0) < 1.0]
    if slow:
        print("WARNING: fused slower than torch.compile(reference) at", slow)

    columns = [
        c
        for c in (
            "loss",
            "B",
            "floor_ms",
            "fused_ms",
            "before_fused_ms",
            "eager_ms",
            "compiled_ms",
            "vs_compiled",
            "before_vs_compiled",
            "vs_eager",
            "vs_before",
            "floor_share",
        )
        if c in rows[-1]
    ]
    print()
    print_table(rows, columns)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"sym_loss_{args.device}.csv"
    write_csv(out, rows)
    md = args.out / f"sym_loss_{args.device}.md"
    md.write_text(
        f"sym_loss forward+backward on {machine_name(args.device)}{threads}{load}\n\n"
        + markdown_table(rows, columns)
        + "\n"
    )
    print(f"wrote {out} and {md}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.6), sharey=True, squeeze=False)
        for ax, name in zip(axes[0], names):
            sub = [r for r in rows if r["loss"] == name]
            for key, style in (
                ("fused_ms", "-"),
                ("before_fused_ms", "-."),
                ("eager_ms", "--"),
                ("compiled_ms", ":"),
                ("floor_ms", "-"),
            ):
                if key in sub[0]:
                    ax.loglog(
                        [r["B"] for r in sub],
                        [r[key] for r in sub],
                        style,
                        marker="o",
                        markersize=3,
                        label=key[:-3],
                        color="0.6" if key == "floor_ms" else None,
                    )
            ax.set_title(name, fontsize=8)
            ax.set_xlabel("pairs B")
        axes[0][0].set_ylabel("forward+backward (ms)")
        axes[0][0].legend(fontsize=6)
        fig.suptitle(f"sym_loss on {args.device}{threads}", fontsize=9)
        fig.tight_layout()
        fig.savefig(args.out / f"sym_loss_{args.device}.png", dpi=100)
        print(f"wrote {args.out / f'sym_loss_{args.device}.png'}")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
