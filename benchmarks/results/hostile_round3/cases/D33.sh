# class: data
# case: label 0 on every row == the same file with chosen/rejected swapped (same final weights)
source /tmp/wh/cases/lib.sh
$PY -c "
import json
for l in open('d16.jsonl'):
    r=json.loads(l); print(json.dumps(dict(r,label=0)))" > l0.jsonl
$PY -c "
import json
for l in open('d16.jsonl'):
    r=json.loads(l); print(json.dumps(dict(r,chosen=r['rejected'],rejected=r['chosen'])))" > sw.jsonl
K TA --train_data l0.jsonl --output_dir o --max_steps 2 --learning_rate 1e-3
TA --train_data sw.jsonl --output_dir f --max_steps 2 --learning_rate 1e-3 > /dev/null 2>&1
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo $m
$PY -c "print('$m'.split('=')[1])" | awk '{exit !($1<1e-6)}' && V handled "equal: $m" || V silent-wrong "label 0 != swapped: $m"
