# class: data
# case: chat: response is a 'system' message
source /tmp/wh/cases/lib.sh
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['rejected'][0]['role']='system'; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|role|system|assistant' o
