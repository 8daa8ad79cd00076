# class: data
# case: chat: a 'tool' role message in the prompt (template has no tool branch: renders as assistant?)
source /tmp/wh/cases/lib.sh
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['prompt'].append({'role':'tool','content':'river 42'}); print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|tool|role' o
