# class: data
# case: chat: response role 'user' instead of 'assistant'
source /tmp/wh/cases/lib.sh
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['chosen'][0]['role']='user'; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|role|user|assistant' o
