# class: sympo-audit: bad inputs
# case: --data invalid JSON on line 3
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
{ head -2 a40.jsonl; echo '{"prompt": "x", chosen}'; } > bad.jsonl
K AU --model $R1/final --ref_model $FX/model --data bad.jsonl --beta 0.2 --output_dir a
refuse 2 'bad.jsonl:3' a
