# class: data
# case: label NaN (JSON NaN literal)
source /tmp/wh/cases/lib.sh
$PY -c "import json
R=[json.loads(l) for l in open('d16.jsonl')]
import sys
R[3]['label']=float('nan')
for r in R: print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:4|label' o
