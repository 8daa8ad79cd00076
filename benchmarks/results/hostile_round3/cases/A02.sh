# class: sympo-audit: defaults
# case: run-dir defaults from another cwd (cd /)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
cd /; K AU --model $R1 --output_dir $W/a; cd $W
c=$(CHK a $R1/final $FX/model $FX/a40.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || { [ $RC = 2 ] && V unclear "rc 2: $(tail -1 key.out)" || V silent-wrong "rc $RC $c"; }
