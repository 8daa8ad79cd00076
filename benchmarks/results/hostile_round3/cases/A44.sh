# class: sympo-audit: output dir
# case: a previous audit + a user file in the dir: refused, previous intact
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir a >/dev/null 2>&1; cp -r a ref16; echo mine > a/notes.txt
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
s=$($PY /tmp/wh/cases/coh.py a ref16 ref16); echo "$s"
[[ "$s" == STATE=old* ]] || { V "lost / mixed" "$s"; exit; }
refuse 2 'notes.txt|other files'
