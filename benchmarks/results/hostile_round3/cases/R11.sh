# class: resume with changed inputs
# case: tokenizer swapped: model dir's tokenizer.json replaced by one with permuted ids, before --resume
source /tmp/wh/cases/lib.sh
base
$PY - <<'P'
import json
t=json.load(open('model/tokenizer.json')); v=t['model']['vocab']
keys=[k for k in v if not k.startswith('<')]; ids=[v[k] for k in keys]; ids=ids[1:]+ids[:1]
for k,i in zip(keys,ids): v[k]=i
json.dump(t,open('model/tokenizer.json','w'))
P
K RES
refuse 2 'tokenizer|changed|model'
