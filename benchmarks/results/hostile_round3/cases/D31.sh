# class: data
# case: chat: content is a list of parts (multimodal style)
source /tmp/wh/cases/lib.sh
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['chosen'][0]['content']=[{'type':'text','text':'river'}]; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|content' o
