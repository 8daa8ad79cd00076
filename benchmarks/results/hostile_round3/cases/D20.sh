# class: data
# case: empty chosen strings on all rows
source /tmp/wh/cases/lib.sh
$PY -c "import json
R=[json.loads(l) for l in open('d16.jsonl')]
[print(json.dumps(dict(r, chosen=''))) for r in R]" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'empty|no pairs|skipped|x.jsonl' o
