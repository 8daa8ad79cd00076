"""Kill sympo-audit with SIGKILL at random moments while it writes its outputs; after every kill the
output directory must hold entirely the old outputs or entirely the new ones (hostile A99).

    python benchmarks/results/hostile_issue18_19/kill_audit_check.py [--trials 24] [--work /tmp/kill_audit]

Setup (in --work): a tiny Llama reference (seed 0) and a policy (seed 1), 40 random pairs. Each variant
of the audit (--method sign, --threshold 0.2 / 0.5 / 0.8) is first run to completion into its own
directory: that is its "new" state. Then each trial starts the next variant on the shared directory,
waits for the hidden staging directory (``.out.sympo-audit-new``: the writing has begun) and kills it
after a random delay: half the kills before the measured swap time (the staging directory's
path changes inode), half between it and 1.2 x the time the old outputs are gone. The state after the kill
(every file but the lock file, byte for byte) must equal the state before the trial or the variant's
new state; anything else (a mix, a missing file, a half-written one) is a failure. Exit status 1 on a
failure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

LOCK = ".sympo-audit.lock"
VARIANTS = [["--method", "sign"], ["--threshold", "0.2"], ["--threshold", "0.5"], ["--threshold", "0.8"]]


def setup(work: str) -> None:
    from sympo_ext.experiments.synthetic import build_tiny_llama, build_tokenizer

    tok = build_tokenizer()
    for name, seed in (("ref", 0), ("pol", 1)):
        build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, seed=seed).save_pretrained(
            os.path.join(work, name)
        )
        tok.save_pretrained(os.path.join(work, name))
    words = sorted(w for w in tok.get_vocab() if not w.startswith("<"))
    rng = random.Random(0)

    def sentence(lo, hi):
        return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))

    with open(os.path.join(work, "pairs.jsonl"), "w") as fh:
        for _ in range(40):
            fh.write(
                json.dumps({"prompt": sentence(3, 8), "chosen": sentence(2, 6), "rejected": sentence(2, 6)}) + "\n"
            )


def command(work: str, out: str, variant: list[str]) -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "sympo-audit")
    return [exe, "--model", f"{work}/pol", "--ref_model", f"{work}/ref", "--data", f"{work}/pairs.jsonl"] + [
        "--beta",
        "0.2",
        "--output_dir",
        out,
        "--no_progress",
        *variant,
    ]


def state(out: str) -> dict[str, bytes]:
    if not os.path.isdir(out):
        return {}
    return {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out)) if n != LOCK}


def describe(s: dict[str, bytes]) -> str:
    if "summary.json" not in s:
        return f"files={sorted(s)}"
    try:
        summ = json.loads(s["summary.json"])
        return f"{summ['method']} threshold={summ['threshold']} flagged={summ['num_suspects']}"
    except ValueError:
        return "summary.json unreadable"


def run_to_end(cmd, staging) -> tuple[float, float]:
    """Run to completion; the seconds from the staging directory's appearance (the writing begins) to the
    swap (its path then holds the old outputs) and to its disappearance (the old outputs removed)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = swapped = gone = ino = None
    while p.poll() is None and gone is None:
        try:
            now = os.stat(staging).st_ino
        except FileNotFoundError:
            now = None
        if seen is None and now is not None:
            seen, ino = time.perf_counter(), now
        elif seen is not None and swapped is None and now != ino:  # the path now holds the old outputs
            swapped = time.perf_counter()
        if seen is not None and now is None:
            gone = time.perf_counter()
        time.sleep(0.0002)
    _, err = p.communicate()
    if p.returncode != 0:
        sys.exit(f"audit failed ({p.returncode}): {err.decode()}")
    if seen is None or gone is None:
        return 0.0, 0.0
    return (swapped or gone) - seen, gone - seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--work", default="/tmp/kill_audit")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    setup(args.work)
    expected, windows = {}, []
    for i, v in enumerate(VARIANTS):  # each variant's complete outputs (and twice: they are deterministic)
        ref = os.path.join(args.work, f"expected{i}")
        windows.append(run_to_end(command(args.work, ref, v), os.path.join(args.work, f".expected{i}.sympo-audit-new")))
        expected[i] = state(ref)
        again = os.path.join(args.work, f"again{i}")
        run_to_end(command(args.work, again, v), os.path.join(args.work, f".again{i}.sympo-audit-new"))
        assert state(again) == expected[i], f"variant {v} is not deterministic: the check cannot tell states apart"
    assert len({json.dumps(sorted((k, v.hex()) for k, v in s.items())) for s in expected.values()}) == len(VARIANTS)
    t_swap = min(w[0] for w in windows)  # kills before it: old outputs; after it: the new ones
    window = max(w[1] for w in windows)
    print(
        f"writing: the swap {min(w[0] for w in windows) * 1e3:.0f}-{max(w[0] for w in windows) * 1e3:.0f} ms after the "
        f"staging dir appears, the old outputs removed by {window * 1e3:.0f} ms; kills drawn half from "
        f"[0, {t_swap * 1e3:.0f}] ms, half from [{t_swap * 1e3:.0f}, {1.2 * window * 1e3:.0f}] ms after it appears",
        flush=True,
    )

    out = os.path.join(args.work, "out")
    staging = os.path.join(args.work, ".out.sympo-audit-new")
    run_to_end(command(args.work, out, VARIANTS[0]), staging)
    rng = random.Random(args.seed)
    counts = {"old": 0, "new": 0, "MIXED": 0}
    for trial in range(args.trials):
        i = 1 + trial % (len(VARIANTS) - 1) if trial % 2 == 0 else 0
        if state(out) == expected[i]:  # the variant must change the outputs, or old and new look alike
            i = (i + 1) % len(VARIANTS)
        before = state(out)
        delay = rng.uniform(0, t_swap) if trial % 4 < 2 else rng.uniform(t_swap, 1.2 * window)
        p = subprocess.Popen(command(args.work, out, VARIANTS[i]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while p.poll() is None and os.path.isdir(staging):  # an earlier kill's leftover: removed at the start
            time.sleep(0.0002)
        while p.poll() is None and not os.path.isdir(staging):  # the writing begins
            time.sleep(0.0002)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        after = state(out)
        verdict = "old" if after == before else "new" if after == expected[i] else "MIXED"
        counts[verdict] += 1
        print(
            f"trial {trial:2d}: {' '.join(VARIANTS[i]):18s} kill at +{delay * 1e3:6.1f} ms, rc {p.returncode:3d}: "
            f"{verdict:5s} ({describe(after)}); hidden leftovers: {sorted(n for n in os.listdir(args.work) if n.startswith('.out'))}",
            flush=True,
        )
    run_to_end(command(args.work, out, VARIANTS[1]), staging)  # a clean run after the kills tidies up
    leftovers = sorted(n for n in os.listdir(args.work) if n.startswith(".out"))
    clean = state(out) == expected[1] and leftovers == []
    print(
        f"{args.trials} kills: {counts['old']} left the old outputs, {counts['new']} the new ones, "
        f"{counts['MIXED']} a mix; a complete run afterwards: {'outputs right, no leftovers' if clean else 'WRONG'} "
        f"{leftovers}"
    )
    return 0 if counts["MIXED"] == 0 and clean else 1


if __name__ == "__main__":
    sys.exit(main())
