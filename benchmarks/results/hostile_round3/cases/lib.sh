# common helpers for the hostile round-3 cases; each case: bash NNN.sh (CASE set from the file name)
set -u
export OMP_NUM_THREADS=1 PYTHONWARNINGS=ignore
VENV=/work/wt/wh/.venv
export PATH=$VENV/bin:$PATH
FX=/tmp/wh/fx
CASE=${CASE:-$(basename "$0" .sh)}
W=/tmp/wh/run/$CASE
rm -rf "$W"; mkdir -p "$W"; cd "$W"
cp -r $FX/model $FX/model_b $FX/tok . ; cp $FX/*.jsonl .
PY="nice -n 10 $VENV/bin/python"
T() { nice -n 10 $VENV/bin/sympo-train "$@"; }
TA() { T --model model --train_data d16.jsonl --batch_size 4 --progress false "$@"; }
AU() { nice -n 10 $VENV/bin/sympo-audit --no_progress "$@"; }
# K cmd...: the key command; output in key.out, status in RC
K() { "$@" > key.out 2>&1; RC=$?; echo "RC=$RC"; }
tailk() { tr '\r' '\n' < key.out | grep -v -e '^Loading weights' -e '^Writing model shards' -e '^\s*$' | tail -${1:-3} | cut -c1-400 | sed 's/^/TAIL: /'; }
tb() { grep -q Traceback key.out; }
V() { echo "AUTO=$1|${2:-}"; tailk ${3:-3}; }
# refuse RC PATTERN [PATH_MUST_NOT_EXIST]: the expected refusal
refuse() {
  local want=$1 pat=$2 path=${3:-}
  if tb; then V traceback "traceback (rc $RC)"; return; fi
  if [ "$RC" = 0 ]; then V silent-wrong "accepted (rc 0), expected a refusal matching '$pat'"; return; fi
  if grep -q 'expected one argument' key.out; then V unclear "rc $RC: argparse reads the negative value as an option ('expected one argument'); the message does not name the value or the --opt=VALUE form"; return; fi
  if [ -n "$path" ] && [ -e "$path" ]; then V unclear "refused (rc $RC) but $path was created"; return; fi
  if [ "$RC" = "$want" ] && grep -qiE -- "$pat" key.out; then V handled "refused rc $RC"; else V unclear "rc $RC, message does not match '$pat'"; fi
}
# ok0: expects success
ok0() { if tb; then V traceback "traceback rc $RC"; elif [ "$RC" = 0 ]; then V handled "${1:-ran}"; else V unclear "rc $RC: ${1:-}"; fi; }
cmpw() { $PY /tmp/wh/cases/cmpw.py "$@"; }
# base [flags]: an uninterrupted 4-step run in o (a checkpoint per step, all kept), and o2 = o rewound to
# step 2 (steps 3-4 and final/ removed, latest -> step-000002): a run interrupted after its 2nd checkpoint
base() { TA --output_dir o --max_steps 4 --save_steps 1 --save_total_limit 0 "$@" > base.out 2>&1 || { echo "BASE FAILED"; tail -3 base.out; }
  cp -r o o2; rm -rf o2/checkpoints/step-000003 o2/checkpoints/step-000004 o2/final; printf step-000002 > o2/checkpoints/latest; }
RES() { T --output_dir o2 --resume --progress false "$@"; }
# after a resume that was accepted: same final weights as the uninterrupted run?
same_as_o() { local m; m=$(cmpw o o2 2>&1 | grep -o 'MAXDIFF=[^ ]*'); echo "$m"; [ "$m" = "MAXDIFF=0.0" ]; }
