# class: data
# case: --empty_policy error with one identical pair
source /tmp/wh/cases/lib.sh
$PY -c "
import json
for i,l in enumerate(open('d16.jsonl')):
    r=json.loads(l); print(json.dumps(dict(r,rejected=r['chosen']) if i==6 else r))" > x.jsonl
K TA --train_data x.jsonl --empty_policy error --output_dir o --max_steps 1
refuse 2 'x.jsonl:7' o
