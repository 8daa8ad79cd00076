# class: sympo-audit: output dir
# case: foreign files in --output_dir (notes.txt + audit.csv of the user)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir a; echo precious > a/notes.txt; echo mine > a/audit.csv
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
[ "$(cat a/audit.csv)" = mine ] && [ -e a/notes.txt ] || { V "lost / mixed" "user files replaced"; exit; }
refuse 2 'holds other files|notes.txt'
