# class: sympo-audit: bad inputs
# case: --device cuda without a GPU
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --device cuda --output_dir a
refuse 2 'cuda' a
