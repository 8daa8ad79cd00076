# class: sympo-audit: defaults
# case: run-dir defaults from a cwd holding OTHER files named like the run's inputs (model, a40.jsonl)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir cw; cp -r model_b cw/model; cp d16.jsonl cw/a40.jsonl; cd cw; K AU --model $R1 --output_dir ../a; cd ..
c=$(CHK a $R1/final $FX/model $FX/a40.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "used the run's recorded cwd: $c" || V silent-wrong "rc $RC $c"
