# class: data
# case: .json top-level is an object, not a list
source /tmp/wh/cases/lib.sh
$PY -c "import json
R=[json.loads(l) for l in open('d16.jsonl')]
print(json.dumps({'data': R}))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl|list|object' o
