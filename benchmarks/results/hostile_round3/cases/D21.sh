# class: data
# case: a 5000-word response with default --max_length 512 (truncated, counted)
source /tmp/wh/cases/lib.sh
$PY -c "import json
R=[json.loads(l) for l in open('d16.jsonl')]
R[0]['chosen']=' '.join(['ocean']*5000)
for r in R: print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
ok0 'trained; check truncation count'; grep -o 'truncat[^;]*' key.out | head -2
