# class: resume with changed inputs
# case: separate --tokenizer dir swapped for another one of the same size before --resume
source /tmp/wh/cases/lib.sh
cp -r tok tokB; base --tokenizer tokB
$PY - <<'P'
import json
t=json.load(open('tokB/tokenizer.json')); v=t['model']['vocab']
keys=[k for k in v if not k.startswith('<')]; ids=[v[k] for k in keys]; ids=ids[3:]+ids[:3]
for k,i in zip(keys,ids): v[k]=i
json.dump(t,open('tokB/tokenizer.json','w'))
P
K RES
refuse 2 'tokenizer|changed'
