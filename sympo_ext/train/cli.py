"""``sympo-train``: train a causal LM with SymPO (or DPO, cDPO, rDPO, IPO, ...) on preference pairs.

Every option is a flag and a key of the ``--config`` file (YAML or JSON); flags
override the file, the file overrides the defaults. ``--demo`` runs the
self-contained demonstration (nothing downloaded).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import sys
import typing

from .config import GROUPS, ConfigError, TrainConfig, load_config_file
from .rundir import resumable_config

__all__ = ["main", "build_parser", "config_from_args"]

EXAMPLES = """\
examples:
  # the self-contained demo (tiny Llama, synthetic task, 40% label noise, 3 seeds; ~1.5 minutes on 2 CPU cores)
  sympo-train --demo
  sympo-train --demo --quick            # the CI preset, seconds

  # SymPO (sigmoid loss) on your pairs, frozen reference = the initial policy
  sympo-train --model ./my-sft-model --train_data pairs.jsonl --output_dir runs/sympo \\
      --loss_type sigmoid --beta 0.1 --batch_size 32 --grad_accum 4 --learning_rate 5e-7

  # DPO baseline from a config file, overriding one option
  sympo-train --config dpo.yaml --loss_type logistic --output_dir runs/dpo

  # continue an interrupted run exactly (same options), extend a finished one, or 2 GPUs / CPU processes
  sympo-train --config dpo.yaml --output_dir runs/dpo --resume
  sympo-train --config dpo.yaml --output_dir runs/dpo --resume --num_epochs 3   # the length given now decides
  torchrun --nproc_per_node 2 -m sympo_ext.train.cli --config dpo.yaml --output_dir runs/dpo2

data: JSONL/JSON records (or a saved Hugging Face dataset) with "prompt", "chosen", "rejected"
(strings or lists of {"role", "content"} messages) and optionally "label" (1 = chosen preferred,
0 = rejected preferred) and "true_label". Only response tokens are scored.

outputs (OUTPUT_DIR): run.json (options), metrics.csv (TRL metric names), tb/ (TensorBoard),
checkpoints/step-N/ (atomic; --resume continues from the latest), final/ (save_pretrained).
Ctrl-C or SIGTERM saves a checkpoint and exits (status 128 + signal number); a second one aborts.
One run per OUTPUT_DIR: a second sympo-train on a directory in use is refused with the holder's PID.
--resume on a run stopped before its first checkpoint starts it afresh with its stored options;
a corrupted checkpoint (checked against its sha256 manifest) is skipped for the newest intact one.

exit status: 0 done (a signal once the steps are done lets the final writes finish); 1 an unexpected
error (a traceback: a bug); 2 bad option, config file, data, tokenizer, model or output directory, a
changed input on --resume, or no intact checkpoint (one line, nothing written); 3 non-finite loss,
gradient or parameters (training stopped before the update; the last good checkpoint is kept); 4 a
checkpoint, the final model or another run file could not be written (disk full, ...; training
stopped, the previous checkpoint is intact); 128 + N stopped by signal N (130 SIGINT, 143 SIGTERM: a
checkpoint was saved); 130 also a second signal (stopped at once, nothing saved then).
"""


def _bool(text: str) -> bool:
    low = str(text).lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _optional(kind):
    # '' is "unset" for a number; for a name or a path it is kept, so that the option's own check
    # refuses it (an empty --loss_types must not quietly become the default --loss_type)
    unset = ("none", "null") if kind is str else ("none", "null", "")

    def parse(text: str):
        return None if str(text).lower() in unset else kind(text)

    parse.__name__ = kind.__name__
    return parse


def _field_type(f: dataclasses.Field):
    hints = typing.get_type_hints(TrainConfig)
    hint = hints[f.name]
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    return base, optional


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        # argparse takes a value such as -1e-3 or -inf (not a plain negative number) for an option
        if message.startswith("argument --") and message.endswith("expected one argument"):
            flag = message.split()[1].rstrip(":")
            message += f" (a value that starts with '-', e.g. -1e-3 or -inf, is given as {flag}=VALUE)"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sympo-train",
        usage="sympo-train --demo [--quick]\n       sympo-train [--config FILE] --model DIR --train_data PATH --output_dir DIR "
        "[options]\n       (sympo-train --help lists every option, grouped)",
        description="Train a causal LM on preference pairs with SymPO's symmetric losses (robust to noisy "
        "labels) or DPO and its robust variants, through sympo_ext's fused kernels.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top = parser.add_argument_group("Start here")
    top.add_argument(
        "--config",
        metavar="FILE",
        help="YAML or JSON file of options (same names as the flags); flags given on the command line override it",
    )
    top.add_argument(
        "--demo",
        action="store_true",
        help="run the self-contained demo: tiny Llama + synthetic task "
        "with 40%% label noise, 3 seeds; SFT reference, then SymPO (sigmoid) vs DPO on the same pairs; prints the "
        "comparison and the paired difference",
    )
    top.add_argument("--quick", action="store_true", help="with --demo: the small CI preset (seconds)")
    top.add_argument(
        "--print_config",
        action="store_true",
        help="print the resolved options as JSON and exit (nothing is run or written)",
    )
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    for f in dataclasses.fields(TrainConfig):
        base, optional = _field_type(f)
        meta = f.metadata
        default = f.default
        help_text = meta["help"] if "(default" in meta["help"] else meta["help"] + f" (default: {default})"
        kwargs = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if "metavar" in meta:
            kwargs["metavar"] = meta["metavar"]
        if "const" in meta:  # a flag that may stand alone (--packed = --packed true)
            kwargs.update(nargs="?", const=meta["const"])
        if base is bool:
            if default is False:
                kwargs.update(nargs="?", const=True, type=_bool, metavar="BOOL")
            else:
                kwargs.update(type=_bool, metavar="BOOL")
        else:
            kind = {int: int, float: float, str: str}.get(base, str)
            kwargs["type"] = _optional(kind) if optional else kind
            if "choices" in meta:
                kwargs["choices"] = meta["choices"]
                kwargs.pop("metavar", None)
        groups[meta["group"]].add_argument(f"--{f.name}", **kwargs)
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """defaults < stored run (with --resume) < --config file < flags.

    The length of a resumed run follows what is given now (flags or --config): with --num_epochs
    given and --max_steps not, the stored --max_steps is dropped (set to 0), so that the epochs decide
    the length as they would in a new run; a --max_steps given now decides it as usual."""
    values: dict = {}
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    file_values = load_config_file(args.config) if args.config else {}
    out = given.get("output_dir", file_values.get("output_dir"))
    resume = given.get("resume", file_values.get("resume", False))
    if resume and out:
        values.update(resumable_config(out) or {})
    TrainConfig.from_dict(file_values, source=f"--config {args.config}")  # unknown keys -> error
    values.update(file_values)
    values.update(given)
    now = {**file_values, **given}
    if now.get("loss_types") is not None and "loss_type" in now:  # one would be dropped without a word
        raise ConfigError(
            f"--loss_type {now['loss_type']!r} and --loss_types {now['loss_types']!r} both given: --loss_types "
            "replaces --loss_type (put every loss in --loss_types, or give only --loss_type)"
        )
    if resume and "num_epochs" in now and "max_steps" not in now:
        values["max_steps"] = 0  # the stored --max_steps would otherwise override the --num_epochs given now
    return TrainConfig.from_dict(values)


def main(argv: list[str] | None = None, *, run_demo=None) -> int:
    """Parse, validate and train. ``run_demo``: the demo's runner (``run_demo(quick=, overrides=)``), given by
    the ``sympo-train`` console script (:mod:`sympo_ext.cli`), which sits above both the trainer and the
    experiments the demo lives in (the trainer never imports the experiments).

    With ``argv`` None (the console script, ``python -m``: the process's entry point), a SIGINT / SIGTERM
    after the run has ended is reported and ignored until the process exits, so it cannot turn the
    run's exit status into 130 / 143; with ``argv`` given (a caller's process) no handler outlives the call."""
    from ..data import DataError
    from .checkpoint_files import CheckpointError, CheckpointWriteError
    from .rundir import RunDirError

    parser = build_parser()
    args = parser.parse_args(argv)
    trainer = None
    try:
        if args.demo:
            if run_demo is None:
                raise ConfigError(
                    "--demo is run by the sympo-train console script (python -m sympo_ext.cli "
                    "--demo); python -m sympo_ext.train.cli only trains"
                )
            overrides = {
                f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)
            }
            run_demo(quick=args.quick, overrides=overrides)
            return 0
        if args.quick:
            raise ConfigError("--quick only applies to --demo")
        config = config_from_args(args)
        config.validate()
        if args.print_config:
            print(json.dumps(config.to_dict(), indent=2))
            return 0
        from .reporting import ignore_late_signals
        from .trainer import Trainer

        trainer = Trainer(config, config_file=args.config)
        if argv is None:  # the process's entry point: once train() returns, a late signal cannot change the status
            ignore_late_signals(trainer.report)
        result = trainer.train()
    except KeyboardInterrupt:
        if trainer is not None and trainer.signals.finishing:
            last = trainer.checkpoints.last if getattr(trainer, "checkpoints", None) else None
            print(
                "sympo-train: interrupted while writing the final results (the training steps were done): "
                f"{os.path.join(config.output_dir or '.', 'final')} may be missing or incomplete; the last "
                f"checkpoint ({last or 'none'}) is intact: run the same command plus --resume to write them",
                file=sys.stderr,
            )
            return 130
        # A second Ctrl-C / SIGTERM (or one before training started): stopped at once, nothing saved now.
        print(
            "sympo-train: interrupted: stopped without saving; the last checkpoint (if any) is intact, "
            "continue with --resume",
            file=sys.stderr,
        )
        return 130
    except (ConfigError, RunDirError, DataError, CheckpointError, FileNotFoundError) as e:
        # Config/data/run-directory/checkpoint errors: one clear line, no traceback (nothing was written).
        print(f"sympo-train: error: {e}", file=sys.stderr)
        return 2
    except CheckpointWriteError as e:
        print(f"sympo-train: error: {e.strerror or e}", file=sys.stderr)
        return 4
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        # Another run file (metrics.csv, tb/) could not be written: the checkpoints are as they were.
        print(
            f"sympo-train: error: {e.strerror} ({e.filename or 'a run file'}); training stopped, the last "
            "checkpoint is intact: free space, then continue with --resume",
            file=sys.stderr,
        )
        return 4
    except Exception as e:
        from .trainer import NonFiniteLossError

        if isinstance(e, NonFiniteLossError):
            print(f"sympo-train: error: {e}", file=sys.stderr)
            return 3
        raise
    if result.interrupted is not None:
        return 128 + result.interrupted
    if os.environ.get("RANK", "0") != "0":  # under torchrun, process 0 reports
        return 0
    if result.eval_metrics:
        shown = {k: round(v, 4) for k, v in result.eval_metrics.items()}
        print(f"final eval: {shown}")
    print(f"done: {result.global_step} steps; outputs in {config.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
