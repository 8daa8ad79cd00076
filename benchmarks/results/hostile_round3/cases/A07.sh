# class: sympo-audit: alignment
# case: duplicates + label 0 rows + identical (skipped) rows mixed: alignment
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
$PY -c "
import json
R=[json.loads(l) for l in open('a40_noisy.jsonl')][:12]
out=[R[0],dict(R[1],label=0),dict(R[2],rejected=R[2]['chosen']),R[0],dict(R[1],label=0),R[3],dict(R[4],chosen=''),R[5]]
print('\n'.join(json.dumps(x) for x in out))" > mix.jsonl
K AU --model $R1/final --ref_model $FX/model --data mix.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model mix.jsonl 0.2); echo "$c"; cut -d, -f1,2,3,7 a/audit.csv | paste -sd' '
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
