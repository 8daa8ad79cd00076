# class: sympo-audit: bad inputs
# case: --beta nan / 0
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta nan --output_dir a
r1=$RC; refuse 2 'beta' a | head -1 > v1
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0 --output_dir a
refuse 2 'beta' a
