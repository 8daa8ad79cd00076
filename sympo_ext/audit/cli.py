"""``sympo-audit``: score every preference pair with a trained policy, estimate the label-noise rate,
flag the likely flipped pairs and write a cleaned set.

exit status: 0 done; 2 bad input (a missing file or directory, a model without a reference, a
tokenizer that does not match the model, empty data, an option out of range, margins that cannot rank
the pairs, an --output_dir that cannot be created or that another audit is writing; one line, nothing
written); 4 the outputs could not be written (the previous ones are intact).

The output directory is locked for the whole audit and its outputs are replaced as a whole
(:mod:`sympo_ext.audit.outdir`): after a kill at any moment it holds the old outputs or the new ones.
"""

from __future__ import annotations

import argparse
import os
import sys

from .estimator import METHODS

__all__ = ["main", "build_parser"]

EXAMPLES = """\
examples:
  # a sympo-train run directory: its run.json gives the reference, beta and the data
  sympo-audit --model runs/sympo --output_dir audit/

  # any policy directory, its reference and a data file
  sympo-audit --model runs/sympo/final --ref_model ./sft-model --data pairs.jsonl --beta 0.1 --output_dir audit/

  # cross-fitted (5 policies, each trained on 4/5 of the pairs with the run's recipe; ~5x the training)
  sympo-audit --model runs/sympo --folds 5 --output_dir audit-cv/

outputs (OUTPUT_DIR): audit.csv (one row per input pair, input order: index, label, margin, suspicion,
rank, flagged, skipped), summary.json (num_pairs, noise_rate_estimate, num_suspects, threshold,
method, fallback_reason, warnings, fingerprints), suspects.jsonl (flagged pairs, most suspect first), cleaned.jsonl (the input
without the flagged pairs; with --relabel, their chosen/rejected swapped), margins.png.

OUTPUT_DIR is locked while the audit runs (a second audit on it exits 2, naming the first's PID) and its
outputs are replaced as a whole: killed at any moment, it holds the old outputs or the new ones. Files
that are not audit outputs are refused there (use an empty or new directory); a file named like an output
counts as one only beside a previous audit's summary.json.

A run directory's reference and data (the defaults from run.json) are checked against the fingerprints
the run recorded: a re-exported reference or an edited data file is refused (pass --ref_model / --data
to audit other inputs on purpose). summary.json's data_stats counts the pairs --max_length truncated.

exit status: 0 done; 2 bad input (one line, nothing written); 4 the outputs could not be written (the
previous ones are intact).
"""


def _folds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer (0 = in-sample, K >= 2), got {text!r}") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sympo-audit",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Find the flipped labels: rank every preference pair by the implicit-reward margin of a "
        "policy trained with a symmetric loss (SymPO), estimate the noise rate, write a cleaned set.",
    )
    p.add_argument(
        "--model",
        required=True,
        metavar="DIR",
        help="a trained policy directory, or a sympo-train run directory (its final/ and run.json)",
    )
    p.add_argument("--ref_model", metavar="DIR", help="reference model directory (default: from run.json)")
    p.add_argument("--reference", choices=("none",), help="'none': reference-free margins (beta * log pi)")
    p.add_argument("--tokenizer", metavar="DIR", help="tokenizer directory (default: the policy's)")
    p.add_argument(
        "--data",
        metavar="PATH",
        help="pairs: .jsonl/.json or a saved dataset (default: the run's "
        "train_data); a 'label' field is honoured (0 = rejected preferred)",
    )
    p.add_argument("--split", help="split of a dataset with several")
    p.add_argument("--beta", type=float, help="beta of the implicit reward (default: the run's, else 0.1)")
    p.add_argument("--batch_size", type=int, default=16, help="pairs per forward (default: 16)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--max_length", type=int, help="max tokens of prompt + response (default: the run's, else 1024)")
    p.add_argument("--output_dir", required=True, metavar="DIR")
    p.add_argument(
        "--method",
        default="mixture",
        choices=METHODS,
        help="mixture (default): EM fit of the symmetric-noise mixture (1-eps) N(mu,s) + eps N(-mu,s) on the "
        "margins, eps < 0.49, suspicion = posterior of a flip; when the fit is degenerate (mu <= 0, eps at the "
        "cap, overlapping components or a poor fit by the KS distance) it falls back to sign, with a warning "
        "and the reason in summary.json (method, method_requested, fallback_reason); sign: share of negative "
        "margins, suspicion = sigmoid(-margin); cleanlab: confident learning (pip install 'sympo_ext[audit]')",
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="flag pairs whose suspicion exceeds this, in [0, 1] (default 0.5; not with --method cleanlab)",
    )
    p.add_argument("--relabel", action="store_true", help="cleaned.jsonl keeps the flagged pairs, swapped")
    p.add_argument(
        "--folds",
        type=_folds,
        default=0,
        help="K >= 2: cross-fitted scores (K policies trained on the other folds with the run's recipe; "
        "needs a run directory; costs ~K trainings); 0 = in-sample (default)",
    )
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def _truncation_note(summary: dict) -> str:
    n = (summary.get("data_stats") or {}).get("truncated_pairs", 0)
    if not n:
        return ""
    return (
        f" ({n} pair(s) truncated (--max_length {summary.get('max_length')}): their margins cover the kept tokens only)"
    )


def main(argv: list[str] | None = None) -> int:
    from ..data import DataError
    from ..errors import ConfigError
    from .core import AuditError, AuditOptions, AuditWriteError, audit

    args = build_parser().parse_args(argv)
    opts = AuditOptions(
        model=args.model,
        data=args.data,
        output_dir=args.output_dir,
        ref_model=args.ref_model,
        reference=args.reference,
        tokenizer=args.tokenizer,
        beta=args.beta,
        batch_size=args.batch_size,
        device=args.device,
        max_length=args.max_length,
        method=args.method,
        threshold=args.threshold,
        relabel=args.relabel,
        folds=args.folds,
        split=args.split,
        progress=not args.no_progress,
    )
    try:
        summary = audit(opts)
    except (AuditError, DataError, ConfigError, FileNotFoundError, ImportError) as e:
        print(f"sympo-audit: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # option values checked where they are used (estimator, scoring)
        print(f"sympo-audit: error: {e}", file=sys.stderr)
        return 2
    except AuditWriteError as e:  # the outputs could not be written (read-only, full disk): the old ones are intact
        print(
            f"sympo-audit: error: cannot write --output_dir {args.output_dir!r} ({e.strerror or e}); no output "
            "file was replaced",
            file=sys.stderr,
        )
        return 4
    if os.environ.get("RANK", "0") != "0":
        return 0
    method = summary["method"]
    if summary.get("fallback_reason"):
        method = f"{summary['method_requested']} -> {method}: {summary['fallback_reason']}"
    print(
        f"sympo-audit: {summary['num_pairs']} pairs ({summary['num_skipped']} skipped), estimated noise rate "
        f"{summary['noise_rate_estimate']:.1%} ({method}, {summary['scoring']}), "
        f"{summary['num_suspects']} flagged; outputs in {args.output_dir}"
        + _truncation_note(summary)
        + (f" ({len(summary['warnings'])} warning(s): see summary.json)" if summary.get("warnings") else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
