"""Benchmark: sequence log-probs from hidden states + LM head, forward + backward.

Methods (each computes per-sequence log-probs of a [N, T] batch from hidden [N, T, H] and the
LM head [V, H], then backpropagates a random linear function of them to hidden and weight):

  fused    sympo_ext.fused_linear_sequence_logps (chunked; the full logits never exist;
           backward recomputes the logits: 4 LM-head GEMMs)
  fused_dpo  sympo_ext.FusedLinearSymPOLoss("logistic"), reference-free DPO on the [chosen;
           rejected] batch, gradients made in forward from the same logits (3 GEMMs); the
           like-for-like rival of (c)
  unfused  (a) logits = hidden @ weight.T, then sympo_ext.sequence_logps
  eager    (b) logits = hidden @ weight.T, then the eager reference (log_softmax(logits.float())
           + gather + masked sum: sympo_ext.reference.sequence_logps)
  liger    (c) Liger-Kernel's LigerFusedLinearDPOLoss (reference-free DPO on the [chosen; rejected]
           batch; chunks over pairs); GPU only, when liger_kernel imports
  cce      (d) Cut Cross-Entropy, linear_cross_entropy(reduction="none") summed per sequence
           (its default gradient filtering, filter_eps="high"); GPU only, when it imports

Peak memory is measured honestly: on CUDA torch.cuda.max_memory_allocated over the timed run
minus what was allocated before it (inputs); on CPU every (case, method) runs in its own
subprocess and reports max RSS minus the RSS after the inputs were created. A method that fails
to import, errors or runs out of memory is reported as skipped with the reason.

  python benchmarks/bench_fused_linear.py --device cpu [--quick] [--out DIR]
  python benchmarks/bench_fused_linear.py --device cuda [--quick] [--out DIR]
  python benchmarks/bench_fused_linear.py --plot-only benchmarks/results/bench_fused_linear_cpu.csv

Writes DIR/bench_fused_linear_<device>.csv and .png (default DIR: benchmarks/results/).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

METHODS = ["fused", "fused_dpo", "unfused", "eager", "liger", "cce"]
GPU_ONLY = {"liger", "cce"}
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass
class Case:
    n: int
    t: int
    h: int
    v: int
    dtype: str

    @property
    def tokens(self) -> int:
        return self.n * self.t

    @property
    def label(self) -> str:
        return f"{self.tokens // 1024 if self.tokens >= 1024 else self.tokens}{'k' if self.tokens >= 1024 else ''} tok H{self.h} V{self.v} {self.dtype}"


CPU_CASES = [
    Case(2, 256, 512, 32000, "fp32"),
    Case(4, 512, 512, 32000, "fp32"),
    Case(4, 512, 512, 32000, "bf16"),
    Case(4, 512, 256, 128256, "fp32"),
    Case(16, 1024, 128, 32000, "fp32"),  # 16k tokens: the memory target
]
CPU_QUICK = [Case(2, 256, 256, 32000, "fp32"), Case(4, 512, 256, 32000, "fp32")]
GPU_CASES = [
    Case(4, 1024, 2048, 32000, "bf16"),
    Case(1, 2048, 4096, 128256, "bf16"),
    Case(4, 2048, 4096, 128256, "bf16"),
    Case(8, 2048, 4096, 128256, "bf16"),  # 16k tokens: the memory target
    Case(16, 2048, 4096, 128256, "bf16"),  # 32k tokens
]
GPU_QUICK = [Case(1, 2048, 4096, 128256, "bf16"), Case(8, 2048, 4096, 128256, "bf16")]


class Skip(Exception):
    pass


# --------------------------------------------------------------------------- #
# one measurement (runs in this process)
# --------------------------------------------------------------------------- #


def _inputs(case: Case, device: str, ignore_frac: float, seed: int = 0):
    import torch

    g = torch.Generator(device=device).manual_seed(seed)
    dtype = getattr(torch, DTYPES[case.dtype])
    hidden = torch.randn(case.n, case.t, case.h, generator=g, device=device).to(dtype).requires_grad_()
    weight = (torch.randn(case.v, case.h, generator=g, device=device) / case.h**0.5).to(dtype).requires_grad_()
    labels = torch.randint(0, case.v, (case.n, case.t), generator=g, device=device)
    labels[:, : int(case.t * ignore_frac)] = -100  # prompt tokens do not count
    coef = torch.randn(case.n, generator=g, device=device)
    return hidden, weight, labels, coef


def _runner(method: str, case: Case, device: str, hidden, weight, labels, coef):
    """A closure doing forward + backward once (raises Skip when the method is unavailable)."""
    import torch

    import sympo_ext
    from sympo_ext import reference

    if method in GPU_ONLY and device != "cuda":
        raise Skip("GPU only")
    if method == "fused":

        def run():
            out = sympo_ext.fused_linear_sequence_logps(hidden, weight, labels)
            (out * coef).sum().backward()
    elif method == "fused_dpo":
        if case.n % 2:
            raise Skip("needs an even number of sequences ([chosen; rejected])")
        loss_fn = sympo_ext.FusedLinearSymPOLoss("logistic", beta=0.1)

        def run():
            loss_fn(hidden, weight, labels)[0].backward()
    elif method == "unfused":

        def run():
            out = sympo_ext.sequence_logps(hidden @ weight.T, labels)
            (out * coef).sum().backward()
    elif method == "eager":

        def run():
            out = reference.sequence_logps(hidden @ weight.T, labels)
            (out * coef).sum().backward()
    elif method == "liger":
        try:
            from liger_kernel.chunked_loss import LigerFusedLinearDPOLoss
        except Exception as exc:  # ImportError, or triton/torch mismatch at import
            raise Skip(f"liger_kernel does not import: {type(exc).__name__}: {exc}") from None
        if case.n % 2:
            raise Skip("needs an even number of sequences ([chosen; rejected])")
        loss_fn = LigerFusedLinearDPOLoss(beta=0.1, use_ref_model=False, compiled=True)

        def run():
            out = loss_fn(weight, hidden, labels)
            (out[0] if isinstance(out, tuple) else out).backward()
    elif method == "cce":
        try:
            from cut_cross_entropy import linear_cross_entropy
        except Exception as exc:
            raise Skip(f"cut_cross_entropy does not import: {type(exc).__name__}: {exc}") from None

        def run():
            # flattened 2-D inputs: cut-cross-entropy 25.1.1's reduction="none" fails to .view() a 3-D batch
            nll = linear_cross_entropy(hidden.view(-1, case.h), weight, labels.view(-1), reduction="none")
            out = -nll.float().reshape(case.n, case.t).sum(-1)
            (out * coef).sum().backward()
    else:
        raise ValueError(method)
    del torch
    return run


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measure(method: str, case: Case, device: str, warmup: int, reps: int, ignore_frac: float) -> dict:
    """Time (median over reps, ms) and peak extra memory (MiB) of forward + backward."""
    import torch

    hidden, weight, labels, coef = _inputs(case, device, ignore_frac)
    run = _runner(method, case, device, hidden, weight, labels, coef)

    def once():
        hidden.grad = weight.grad = None
        run()

    if device == "cuda":
        torch.cuda.synchronize()
        for _ in range(warmup):
            once()
        hidden.grad = weight.grad = None
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(reps):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            once()
            stop.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(stop))
        peak = torch.cuda.max_memory_allocated() - base
    else:
        base = _rss_bytes()
        times, cpu_times = [], []
        for i in range(warmup + reps):
            t0, c0 = time.perf_counter(), time.process_time()
            once()
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1e3)
                cpu_times.append((time.process_time() - c0) * 1e3)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
        return dict(time_ms=statistics.median(times), cpu_ms=statistics.median(cpu_times), peak_extra_mib=peak / 2**20)
    return dict(time_ms=statistics.median(times), peak_extra_mib=peak / 2**20)


# --------------------------------------------------------------------------- #
# driver
# --------------------------------------------------------------------------- #


def machine_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name()
    model = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} cores"


def _run_child(method: str, case: Case, device: str, args) -> dict:
    """CPU: one subprocess per (case, method) so max RSS belongs to that case alone."""
    payload = json.dumps(
        dict(
            method=method,
            case=asdict(case),
            device=device,
            warmup=args.warmup,
            reps=args.reps,
            ignore_frac=args.ignore_frac,
            threads=args.threads,
        )
    )
    try:
        # A fixed mmap threshold makes glibc return every large buffer to the OS when it is freed
        # (no heap fragmentation), so max RSS tracks the live tensors, for every method alike.
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", OMP_NUM_THREADS=str(args.threads))
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--_child", payload],
            capture_output=True,
            text=True,
            timeout=args.case_timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return dict(status=f"skipped: timed out after {args.case_timeout} s")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return dict(status=f"skipped: exit {proc.returncode}: {tail[:200]}")
    return json.loads(lines[-1])


def _measure_safely(method: str, case: Case, device: str, args) -> dict:
    import torch

    try:
        result = measure(method, case, device, args.warmup, args.reps, args.ignore_frac)
        result["status"] = "ok"
        return result
    except Skip as exc:
        return dict(status=f"skipped: {exc}")
    except torch.OutOfMemoryError:
        return dict(status="skipped: out of memory")
    except Exception as exc:  # a competitor that errors must not end the run
        return dict(status=f"skipped: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
    finally:
        if device == "cuda":
            import gc

            gc.collect()
            torch.cuda.empty_cache()


def child_main(payload: str) -> None:
    spec = json.loads(payload)
    import torch

    torch.set_num_threads(spec["threads"])
    case = Case(**spec["case"])
    try:
        result = measure(spec["method"], case, spec["device"], spec["warmup"], spec["reps"], spec["ignore_frac"])
        result["status"] = "ok"
    except Skip as exc:
        result = dict(status=f"skipped: {exc}")
    print(json.dumps(result), flush=True)


FIELDS = [
    "device",
    "machine",
    "method",
    "n",
    "t",
    "h",
    "v",
    "tokens",
    "dtype",
    "ignore_frac",
    "status",
    "time_ms",
    "cpu_ms",
    "peak_extra_mib",
    "time_vs_unfused",
    "mem_vs_unfused",
    "load_avg",
]


def _fmt(x, spec):
    return format(x, spec) if isinstance(x, (int, float)) else "-"


def print_table(rows, machine: str) -> None:
    print(f"\nfused linear sequence log-probs, forward + backward -- {machine}")
    print(
        f"{'case':<30} {'method':<10} {'wall ms':>10} {'cpu ms':>10} {'peak MiB':>10} {'t/(a)':>6} {'m/(a)':>6}  status"
    )
    for r in rows:
        case = Case(r["n"], r["t"], r["h"], r["v"], r["dtype"]).label
        print(
            f"{case:<30} {r['method']:<10} {_fmt(r.get('time_ms'), '10.1f')} {_fmt(r.get('cpu_ms'), '10.1f')} "
            f"{_fmt(r.get('peak_extra_mib'), '10.0f')} {_fmt(r.get('time_vs_unfused'), '6.2f')} "
            f"{_fmt(r.get('mem_vs_unfused'), '6.2f')}  {r['status']}"
        )
    print(
        "t/(a): time relative to (a) unfused (CPU: process CPU time); m/(a): peak memory beyond inputs relative to (a)"
    )


def plot(rows, path: str, machine: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as exc:
        return f"plot skipped: matplotlib unavailable ({exc})"
    cases = list(dict.fromkeys(Case(r["n"], r["t"], r["h"], r["v"], r["dtype"]).label for r in rows))
    methods = [m for m in METHODS if any(r["method"] == m and r["status"] == "ok" for r in rows)]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 2.2 * len(cases)) * 1.6, 4.8))
    width = 0.8 / max(1, len(methods))
    for ax, key, title in (
        (axes[0], "time_ms", "forward + backward time (ms)"),
        (axes[1], "peak_extra_mib", "peak memory beyond inputs (MiB)"),
    ):
        for j, m in enumerate(methods):
            vals = []
            for c in cases:
                hit = [
                    r
                    for r in rows
                    if r["method"] == m
                    and r["status"] == "ok"
                    and Case(r["n"], r["t"], r["h"], r["v"], r["dtype"]).label == c
                ]
                vals.append(float(hit[0][key]) if hit else 0.0)
            ax.bar([i + j * width for i in range(len(cases))], vals, width, label=m)
        ax.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(cases))])
        ax.set_xticklabels(cases, rotation=20, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.suptitle(f"fused linear sequence log-probs -- {machine}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return f"wrote {path}"


def _ratios(rows) -> None:
    for r in rows:
        base = [
            b
            for b in rows
            if b["method"] == "unfused"
            and b["status"] == "ok"
            and (b["n"], b["t"], b["h"], b["v"], b["dtype"]) == (r["n"], r["t"], r["h"], r["v"], r["dtype"])
        ]
        if r["status"] == "ok" and base:
            # CPU: the ratio uses process CPU time (the machine is shared, so wall time carries others' load)
            key = "cpu_ms" if r.get("cpu_ms") not in (None, "") else "time_ms"
            r["time_vs_unfused"] = float(r[key]) / float(base[0][key])
            r["mem_vs_unfused"] = float(r["peak_extra_mib"]) / max(1e-9, float(base[0]["peak_extra_mib"]))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--_child":
        child_main(sys.argv[2])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--quick", action="store_true", help="two small cases, fewer repetitions")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    p.add_argument("--ignore-frac", type=float, default=0.0, help="fraction of each sequence ignored (prompt)")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="CPU threads per case")
    p.add_argument("--case-timeout", type=int, default=600, help="CPU: seconds per (case, method) subprocess")
    p.add_argument("--plot-only", metavar="CSV", help="redraw the plot of an earlier run's CSV")
    args = p.parse_args()

    if args.plot_only:
        with open(args.plot_only) as f:
            rows = list(csv.DictReader(f))
        print(plot(rows, os.path.splitext(args.plot_only)[0] + ".png", rows[0]["machine"] if rows else "?"))
        return

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA GPU visible")
    cases = (
        (GPU_QUICK if args.quick else GPU_CASES) if args.device == "cuda" else (CPU_QUICK if args.quick else CPU_CASES)
    )
    if args.warmup is None:
        args.warmup = (2 if args.quick else 3) if args.device == "cuda" else 1
    if args.reps is None:
        args.reps = (3 if args.quick else 5) if args.device == "cuda" else (1 if args.quick else 2)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(METHODS)
    if unknown:
        sys.exit(f"--methods: unknown {sorted(unknown)}; valid: {METHODS}")
    machine = machine_name(args.device)
    torch.set_num_threads(args.threads)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"bench_fused_linear_{args.device}.csv")

    def write_csv():  # after every measurement, so an interrupted run keeps what it measured
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    rows = []
    for case in cases:
        for method in methods:
            if args.device == "cpu":
                result = (
                    dict(status="skipped: GPU only") if method in GPU_ONLY else _run_child(method, case, "cpu", args)
                )
            else:
                result = _measure_safely(method, case, "cuda", args)
            row = dict(device=args.device, machine=machine, method=method, **asdict(case), tokens=case.tokens)
            row.update(ignore_frac=args.ignore_frac, load_avg=round(os.getloadavg()[0], 2), **result)
            rows.append(row)
            print(
                f"  {case.label:<30} {method:<10} {row['status']:<10} "
                f"{_fmt(row.get('time_ms'), '.1f')} ms {_fmt(row.get('peak_extra_mib'), '.0f')} MiB",
                flush=True,
            )
            write_csv()
    _ratios(rows)
    print_table(rows, machine)
    write_csv()
    print(f"wrote {path}")
    print(plot(rows, os.path.splitext(path)[0] + ".png", machine))


if __name__ == "__main__":
    main()
