# class: sympo-audit: bad inputs
# case: --folds 1
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1 --folds 1 --output_dir a
refuse 2 'folds' a
