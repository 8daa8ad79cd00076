# class: model / tokenizer mismatches
# case: --tokenizer is another model's tokenizer of the same size with permuted ids (undetectable by size)
source /tmp/wh/cases/lib.sh
$PY - <<'P'
import json
t=json.load(open('tok/tokenizer.json')); v=t['model']['vocab']
keys=[k for k in v if not k.startswith('<')]; ids=[v[k] for k in keys]; ids=ids[7:]+ids[:7]
for k,i in zip(keys,ids): v[k]=i
json.dump(t,open('tok/tokenizer.json','w'))
P
K TA --tokenizer tok --output_dir o --max_steps 1
ok0 "ran: a permuted tokenizer of the same size cannot be detected from sizes (note)"
