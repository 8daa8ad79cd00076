# class: sympo-audit: bad inputs
# case: --data missing file
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1/final --ref_model $FX/model --data nope.jsonl --beta 0.2 --output_dir a
refuse 2 'nope.jsonl' a
