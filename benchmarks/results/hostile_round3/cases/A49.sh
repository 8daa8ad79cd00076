# class: sympo-audit: scoring
# case: --model run dir with --data of another run's labels (label field all 0)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
$PY -c "
import json
for l in open('a40_noisy.jsonl'): r=json.loads(l); print(json.dumps(dict(r,chosen=r['rejected'],rejected=r['chosen'],label=0)))" > l0.jsonl
K AU --model $R1/final --ref_model $FX/model --data l0.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model l0.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
