# class: sympo-audit: output dir
# case: --output_dir holds only a user's own audit.csv (not from sympo-audit)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir a; echo "my,own,spreadsheet" > a/audit.csv
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
if [ "$(head -1 a/audit.csv)" != "my,own,spreadsheet" ]; then V "lost / mixed" "the user's audit.csv (no summary.json, not an audit) was overwritten, rc $RC"; else refuse 2 'audit.csv|holds|other'; fi
