# class: sympo-audit: defaults
# case: --beta given with a run dir differs from the run's: honoured (independent margins at 0.5)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1 --beta 0.5 --output_dir a
c=$(CHK a $R1/final $FX/model $FX/a40.jsonl 0.5); echo "$c"; grep -i beta key.out | head -2
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
