# class: sympo-audit: scoring
# case: --reference none: margins = beta * log pi (independent)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1/final --reference none --data a40_noisy.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final none a40_noisy.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
