# class: data
# case: extra unknown keys on every row
source /tmp/wh/cases/lib.sh
$PY -c "import json
R=[json.loads(l) for l in open('d16.jsonl')]
[print(json.dumps(dict(r, id=i, score=0.3))) for i,r in enumerate(R)]" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
ok0 'extra keys ignored'
