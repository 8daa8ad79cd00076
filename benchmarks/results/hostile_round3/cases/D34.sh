# class: data
# case: --eval_data with 0 valid pairs (all identical)
source /tmp/wh/cases/lib.sh
$PY -c "
import json
for l in open('d16.jsonl'):
    r=json.loads(l); print(json.dumps(dict(r,rejected=r['chosen'])))" > ev.jsonl
K TA --eval_data ev.jsonl --output_dir o --max_steps 1
refuse 2 'ev.jsonl|eval' o
