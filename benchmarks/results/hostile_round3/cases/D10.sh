# class: data
# case: label 1.0 (float)
source /tmp/wh/cases/lib.sh
$PY -c "import json
R=[json.loads(l) for l in open('d16.jsonl')]
R[3]['label']=1.0
for r in R: print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
if [ $RC = 0 ]; then V handled '1.0 accepted as 1'; else refuse 2 'x.jsonl:4|label' o; fi
