# class: data
# case: chat: prompt messages but chosen/rejected plain strings (mixed formats)
source /tmp/wh/cases/lib.sh
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['chosen']=r['chosen'][0]['content']; r['rejected']=r['rejected'][0]['content']; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
if [ $RC = 0 ]; then V unclear "mixed chat prompt / plain responses accepted: check key.out for a word"; else refuse 2 'x.jsonl:1|chosen|message|string' o; fi
