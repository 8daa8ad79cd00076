"""Fused sequence log-probs (forward + backward): time and peak memory.

Methods (all compute per-sequence sums of log softmax(logits)[label] and d/d logits):
  fused          sympo_ext.sequence_logps (gradient in a fresh buffer)
  fused_inplace  sympo_ext.sequence_logps(..., inplace_backward=True) (gradient in the logits)
  eager          (a) log_softmax(logits.float()) + gather + masked sum, autograd
  compiled       (b) torch.compile of (a)
  chunked        (c) per-sequence logsumexp in a loop (the idea of TRL's selective_log_softmax)

CPU: every (case, method) runs in its own process (threads: --threads, default 2). Peak memory
`mem_mb` is the process's peak RSS during one forward + backward (high-water mark reset with
/proc/self/clear_refs just before it, read from VmHWM) minus its RSS before the inputs were
created: it counts the logits, the gradient and every temporary; `beyond_inputs_mb` starts from
the RSS just before that step instead (logits and labels already there). `maxrss_mb` is the raw
ru_maxrss of the child (os.wait4: the per-child value behind getrusage(RUSAGE_CHILDREN)), which
also includes imports, compilation and the RSS inherited at fork, so it is not used for ratios.
CUDA: torch.cuda.max_memory_allocated around one forward + backward, and the achieved
bandwidth against the floor (logits read twice + gradient written once).

  python benchmarks/bench_logps.py --device cpu|cuda [--quick] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import copy_bandwidth_gbs, machine_name, markdown_table, print_table, time_fn, write_csv

METHODS = ["fused", "fused_inplace", "eager", "compiled", "chunked"]
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
IGNORE = -100


# --------------------------------------------------------------------------- #
# the methods
# --------------------------------------------------------------------------- #


def eager_logps(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(a) The usual code: upcast, full log-softmax, gather, masked sum."""
    mask = labels != IGNORE
    logp = torch.log_softmax(logits.float(), dim=-1)
    picked = torch.gather(logp, -1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(-1)


def chunked_logps(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(c) Gather the target logits, then the logsumexp one sequence at a time, so only one
    sequence's upcast copy is alive at once."""
    mask = labels != IGNORE
    target = torch.gather(logits, -1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1).float()
    lse = torch.stack([torch.logsumexp(seq.float(), dim=-1) for seq in logits])
    return ((target - lse) * mask).sum(-1)


def fused_logps(logits, labels):
    import sympo_ext

    return sympo_ext.sequence_logps(logits, labels)


_compiled = None


def compiled_logps(logits, labels):
    global _compiled
    if _compiled is None:
        _compiled = torch.compile(eager_logps)
    return _compiled(logits, labels)


def make_step(method: str, n: int, t: int, v: int, dtype: torch.dtype, device: str):
    """Inputs and a closure running forward + backward once."""
    gen = torch.Generator(device=device).manual_seed(0)
    leaf = torch.empty(n, t, v, dtype=dtype, device=device)
    leaf.normal_(0.0, 2.0, generator=gen)
    leaf.requires_grad_(True)
    labels = torch.randint(0, v, (n, t), device=device, generator=gen)
    labels[:, : t // 8] = IGNORE  # a prompt
    grad_out = torch.randn(n, device=device, generator=gen)

    if method == "fused_inplace":
        import sympo_ext

        def step():
            leaf.grad = None
            # A view is a non-leaf: the gradient is written into (and returned in) its storage,
            # i.e. leaf.grad aliases leaf. The values are refreshed before each step (untimed
            # cost is the caller's: see `refresh`).
            out = sympo_ext.sequence_logps(leaf.view_as(leaf), labels, inplace_backward=True)
            out.backward(grad_out)
            return out

        def refresh():
            with torch.no_grad():
                leaf.grad = None
                leaf.normal_(0.0, 2.0, generator=gen)

        return step, refresh, leaf, labels

    fn = {"fused": fused_logps, "eager": eager_logps, "compiled": compiled_logps, "chunked": chunked_logps}[method]

    def step():
        leaf.grad = None
        out = fn(leaf, labels)
        out.backward(grad_out)
        return out

    return step, (lambda: None), leaf, labels


# --------------------------------------------------------------------------- #
# one case (CPU: in a child process)
# --------------------------------------------------------------------------- #


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


_RSS_BEFORE_INPUTS_KB = 0


def run_case(method: str, n: int, t: int, v: int, dtype_name: str, device: str, reps: int) -> dict:
    dtype = DTYPES[dtype_name]
    row = dict(method=method, N=n, T=t, V=v, dtype=dtype_name)
    global _RSS_BEFORE_INPUTS_KB
    import sympo_ext  # noqa: F401  (imported before the baseline RSS is taken)

    if device == "cpu":
        _RSS_BEFORE_INPUTS_KB = _rss_kb("VmRSS")
    step, refresh, leaf, labels = make_step(method, n, t, v, dtype, device)
    warmup = 2 if method == "compiled" else 1
    ms = time_fn(step, device, warmup=warmup, reps=reps, max_seconds=math.inf, setup=refresh)
    if device == "cuda":
        refresh()
        leaf.grad = None
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
        inputs = leaf.numel() * leaf.element_size() + labels.numel() * labels.element_size()
        grad_bytes = 0 if method == "fused_inplace" else leaf.numel() * leaf.element_size()
        row["peak_mb"] = peak / 2**20
        row["beyond_inputs_grad_mb"] = (peak - base - grad_bytes) / 2**20 + 0.0
        del inputs
    else:
        # Peak RSS of one more step, from the RSS before the inputs existed: reset the
        # kernel's high-water mark (clear_refs 5), run, read VmHWM.
        refresh()
        leaf.grad = None
        before_step = _rss_kb("VmRSS")
        _reset_peak_rss()
        step()
        peak = _rss_kb("VmHWM")
        row["mem_mb"] = (peak - _RSS_BEFORE_INPUTS_KB) / 1024
        row["beyond_inputs_mb"] = (peak - before_step) / 1024
    row["ms"] = ms
    return row


def child_main(args) -> None:
    torch.set_num_threads(args.threads)
    row = run_case(args.method, args.N, args.T, args.V, args.dtype, "cpu", args.reps)
    print("RESULT " + json.dumps(row), flush=True)


def run_cpu_child(method, n, t, v, dtype_name, reps, threads) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--method",
        method,
        "--N",
        str(n),
        "--T",
        str(t),
        "--V",
        str(v),
        "--dtype",
        dtype_name,
        "--reps",
        str(reps),
        "--threads",
        str(threads),
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.TemporaryFile(mode="w+") as errf:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True, env=env)
        out = proc.stdout.read()
        proc.stdout.close()
        # Reap the child ourselves to get ITS rusage (max RSS of this case alone).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read()
    maxrss_kb = usage.ru_maxrss
    for line in out.splitlines():
        if line.startswith("RESULT "):
            row = json.loads(line[7:])
            row["maxrss_mb"] = maxrss_kb / 1024
            return row
    raise RuntimeError(f"case {method} {n}x{t}x{v} {dtype_name} failed:\n{err[-3000:]}")


# --------------------------------------------------------------------------- #
# sweep, table, CSV, plot
# --------------------------------------------------------------------------- #


def shapes_for(device: str, quick: bool):
    if device == "cuda":
        if quick:
            return [(8, 512, 32000), (8, 2048, 128256)]
        return [(n, t, v) for n in (8, 32) for t in (512, 2048) for v in (32000, 128256, 256000)]
    if quick:
        return [(4, 256, 32000)]
    # Cut down to the shared 2-core / 24 GiB CPU (the eager reference runs at ~30 Mlogit/s
    # there, the chunked one slower): N = 8, T shrunk so every case has ~33M logits.
    return [(8, 128, 32000), (8, 32, 128256), (8, 16, 256000)]


def plot(rows: list[dict], path: Path, device: str, machine: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = sorted({(r["dtype"], r["N"], r["T"], r["V"]) for r in rows}, key=lambda c: (c[0], c[1] * c[2] * c[3]))
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    mem_key = "peak_mb" if device == "cuda" else "mem_mb"
    fig, axes = plt.subplots(1, 2, figsize=(max(10, 1.6 * len(cases) + 4), 4.8))
    width = 0.8 / max(1, len(methods))
    for k, (key, label) in enumerate([("ms", "forward + backward (ms)"), (mem_key, "peak memory (MiB)")]):
        ax = axes[k]
        for i, m in enumerate(methods):
            vals = []
            for c in cases:
                match = [r for r in rows if r["method"] == m and (r["dtype"], r["N"], r["T"], r["V"]) == c]
                vals.append(match[0].get(key) or 0.0 if match else 0.0)
            ax.bar([j + i * width for j in range(len(cases))], vals, width, label=m)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cases))])
        ax.set_xticklabels([f"{d}\n{n}x{t}x{v}" for d, n, t, v in cases], fontsize=7)
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"sequence_logps forward + backward on {machine}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--quick", action="store_true", help="a few small cases")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--dtypes", default="bf16,fp32")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    # internal: one CPU case in this process
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--N", type=int, help=argparse.SUPPRESS)
    p.add_argument("--T", type=int, help=argparse.SUPPRESS)
    p.add_argument("--V", type=int, help=argparse.SUPPRESS)
    p.add_argument("--dtype", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child_main(args)

    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device")
    methods = [m for m in args.methods.split(",") if m]
    dtypes = [d for d in args.dtypes.split(",") if d]
    reps = args.reps or (10 if device == "cuda" else 3)
    machine = machine_name(device) if device == "cuda" else f"{machine_name('cpu')}, {args.threads} threads"
    print(f"# sequence_logps benchmark on {machine}", flush=True)

    rows: list[dict] = []
    if device == "cuda":
        bw = copy_bandwidth_gbs("cuda")
        print(f"# measured copy bandwidth: {bw:.0f} GB/s", flush=True)
    for n, t, v in shapes_for(device, args.quick):
        for dname in dtypes:
            elem = DTYPES[dname].itemsize
            for m in methods:
                try:
                    if device == "cpu":
                        row = run_cpu_child(m, n, t, v, dname, reps, args.threads)
                    else:
                        torch._dynamo.reset()
                        global _compiled
                        _compiled = None
                        row = run_case(m, n, t, v, dname, "cuda", reps)
                        floor_bytes = 3 * n * t * v * elem
                        row["GB/s"] = floor_bytes / (row["ms"] * 1e-3) / 1e9
                        row["%copy_bw"] = 100.0 * row["GB/s"] / bw
                except torch.OutOfMemoryError:
                    row = dict(method=m, N=n, T=t, V=v, dtype=dname, ms=None, note="OOM")
                    torch.cuda.empty_cache()
                except RuntimeError as exc:
                    row = dict(method=m, N=n, T=t, V=v, dtype=dname, ms=None, note=str(exc).splitlines()[0][:60])
                rows.append(row)
                print(json.dumps({k: (round(x, 3) if isinstance(x, float) else x) for k, x in row.items()}), flush=True)
    # ratios against the eager reference (a), same case
    for r in rows:
        ref = [x for x in rows if x["method"] == "eager" and all(x[k] == r[k] for k in ("N", "T", "V", "dtype"))]
        if ref and ref[0].get("ms") and r.get("ms"):
            r["speedup_vs_eager"] = ref[0]["ms"] / r["ms"]
            key = "peak_mb" if device == "cuda" else "mem_mb"
            if ref[0].get(key) and r.get(key):
                r["mem_vs_eager"] = r[key] / ref[0][key]
    cols = ["dtype", "N", "T", "V", "method", "ms", "speedup_vs_eager"]
    cols += (
        ["peak_mb", "beyond_inputs_grad_mb", "GB/s", "%copy_bw"]
        if device == "cuda"
        else ["mem_mb", "beyond_inputs_mb", "maxrss_mb"]
    )
    cols += ["mem_vs_eager", "note"]
    print()
    print_table(rows, cols)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    write_csv(out / f"logps_{device}{suffix}.csv", rows)
    (out / f"logps_{device}{suffix}.md").write_text(f"Machine: {machine}\n\n" + markdown_table(rows, cols) + "\n")
    plot(rows, out / f"logps_{device}{suffix}.png", device, machine)
    print(f"\nwrote {out}/logps_{device}{suffix}.{{csv,md,png}}")


if __name__ == "__main__":
    main()
