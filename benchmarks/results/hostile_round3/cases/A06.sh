# class: sympo-audit: alignment
# case: reordered rows (shuffled): margins follow the rows
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
shuf --random-source=<(yes) a40_noisy.jsonl > re.jsonl
K AU --model $R1/final --ref_model $FX/model --data re.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model re.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
