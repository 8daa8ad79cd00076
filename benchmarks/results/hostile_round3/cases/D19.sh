# class: data
# case: every pair identical responses (all skipped)
source /tmp/wh/cases/lib.sh
$PY -c "import json
R=[json.loads(l) for l in open('d16.jsonl')]
[print(json.dumps(dict(r, rejected=r['chosen']))) for r in R]" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'identical|no pairs|skipped|x.jsonl' o
