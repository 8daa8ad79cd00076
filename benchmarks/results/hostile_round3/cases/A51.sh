# class: sympo-audit: bad inputs
# case: --tokenizer with permuted ids (same size)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
cp -r $FX/tok ptok; $PY - <<'P'
import json
t=json.load(open('ptok/tokenizer.json')); v=t['model']['vocab']
keys=[k for k in v if not k.startswith('<')]; ids=[v[k] for k in keys]; ids=ids[7:]+ids[:7]
for k,i in zip(keys,ids): v[k]=i
json.dump(t,open('ptok/tokenizer.json','w'))
P
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --tokenizer ptok --output_dir a
ok0 "ran (a permuted same-size tokenizer cannot be detected; note whether a warning appears)"
grep -i warn key.out | head -1
