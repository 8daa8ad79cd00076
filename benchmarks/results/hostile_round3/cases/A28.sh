# class: sympo-audit: bad inputs
# case: --data label '1' (string)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
{ head -2 a40.jsonl; sed -n 3p a40.jsonl | sed 's/}$/, "label": "1"}/'; } > bad.jsonl
K AU --model $R1/final --ref_model $FX/model --data bad.jsonl --beta 0.2 --output_dir a
refuse 2 'bad.jsonl:3|label' a
