# class: sympo-audit: alignment
# case: duplicated rows (0-4 twice, row 2 thrice): one row per input, equal margins
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
{ head -5 a40_noisy.jsonl; head -5 a40_noisy.jsonl; sed -n 3p a40_noisy.jsonl; } > dup.jsonl
K AU --model $R1/final --ref_model $FX/model --data dup.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model dup.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
