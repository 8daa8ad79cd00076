# class: data
# case: chat: two assistant turns in chosen (multi-turn response)
source /tmp/wh/cases/lib.sh
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['chosen']=r['chosen']+[{'role':'assistant','content':'ocean'}]; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
ok0 "multi-turn response accepted"
