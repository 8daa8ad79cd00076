# class: sympo-audit: outputs
# case: --relabel: flagged pairs swapped in cleaned.jsonl; extra fields kept?
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
$PY -c "
import json
for i,l in enumerate(open('a40_noisy.jsonl')): print(json.dumps(dict(json.loads(l), id=i, meta={'src':'x'})))" > ex.jsonl
K AU --model $R1/final --ref_model $FX/model --data ex.jsonl --beta 0.2 --relabel --output_dir a
$PY -c "
import json,csv
inp=[json.loads(l) for l in open('ex.jsonl')]; cl=[json.loads(l) for l in open('a/cleaned.jsonl')]
fl=[r['flagged']=='1' for r in csv.DictReader(open('a/audit.csv'))]
bad=[i for i,(a,b,f) in enumerate(zip(inp,cl,fl)) if (b['chosen'],b['rejected'])!=((a['rejected'],a['chosen']) if f else (a['chosen'],a['rejected']))]
lost=[i for i,(a,b) in enumerate(zip(inp,cl)) if 'id' not in b or 'meta' not in b]
print('len',len(inp),len(cl),'flagged',sum(fl),'wrong swaps',bad[:5],'rows without id/meta',len(lost))" | tee r.txt
grep -q "wrong swaps \[\] rows without id/meta 0" r.txt && V handled "$(cat r.txt)" || { grep -q "wrong swaps \[\]" r.txt && V "lost / mixed" "cleaned.jsonl drops the user's fields: $(cat r.txt)" || V silent-wrong "$(cat r.txt)"; }
