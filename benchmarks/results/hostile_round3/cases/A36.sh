# class: sympo-audit: alignment
# case: identical / empty responses keep their rows (skipped); independent margins
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
$PY -c "
import json
R=[json.loads(l) for l in open('a40_noisy.jsonl')]
R[3]['rejected']=R[3]['chosen']; R[7]['chosen']=''
print('\n'.join(json.dumps(x) for x in R))" > sk.jsonl
K AU --model $R1/final --ref_model $FX/model --data sk.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model sk.jsonl 0.2); echo "$c"; sed -n '5p;9p' a/audit.csv
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
