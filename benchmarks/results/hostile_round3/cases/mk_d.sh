n=0
mk() { n=$((n+1)); id=$(printf 'D%02d' $n); { echo "# class: ${2:-data}"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; cat; } > $id.sh; }
# simple data: file content given by a python expression producing lines
mkd() { mk "$1" <<EOF
\$PY -c "import json
R=[json.loads(l) for l in open('d16.jsonl')]
$2" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
$3
EOF
}
mkd "empty file" "pass" "refuse 2 'x.jsonl|empty|no preference' o"
mkd "only blank lines" "print('\n\n   \n')" "refuse 2 'x.jsonl|empty|no preference' o"
mkd "UTF-8 BOM at the start" "import sys;sys.stdout.write('\ufeff'+''.join(json.dumps(r)+'\n' for r in R))" "if [ \$RC = 0 ]; then V handled 'BOM accepted'; else refuse 2 'x.jsonl:1|BOM' o; fi"
mk "invalid UTF-8 byte in line 3" <<'EOF'
{ head -2 d16.jsonl; printf '{"prompt": "a\xff b", "chosen": "x", "rejected": "y"}\n'; tail -13 d16.jsonl; } > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:3|utf' o
EOF
mk "truncated last line" <<'EOF'
{ cat d16.jsonl; printf '{"prompt": "a b", "chos'; } > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:17' o
EOF
mkd "label as string '0'" "R[3]['label']='0'
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:4|label' o"
mkd "label 2" "R[3]['label']=2
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:4|label' o"
mkd "label -1" "R[3]['label']=-1
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:4|label' o"
mkd "label 0.5" "R[3]['label']=0.5
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:4|label' o"
mkd "label 1.0 (float)" "R[3]['label']=1.0
for r in R: print(json.dumps(r))" "if [ \$RC = 0 ]; then V handled '1.0 accepted as 1'; else refuse 2 'x.jsonl:4|label' o; fi"
mkd "label [1] (list)" "R[3]['label']=[1]
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:4|label' o"
mkd "label NaN (JSON NaN literal)" "import sys
R[3]['label']=float('nan')
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:4|label' o"
mkd "label true (bool)" "R[3]['label']=True
for r in R: print(json.dumps(r))" "if [ \$RC = 0 ]; then V handled 'true accepted as 1'; else refuse 2 'x.jsonl:4|label' o; fi"
mkd "true_label 3" "R[3]['true_label']=3
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:4|true_label' o"
mkd "missing 'prompt' key on line 5" "del R[4]['prompt']
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:5|prompt' o"
mkd "chosen is a number" "R[4]['chosen']=7
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:5|chosen' o"
mkd "chosen is null" "R[4]['chosen']=None
for r in R: print(json.dumps(r))" "refuse 2 'x.jsonl:5|chosen' o"
mkd "extra unknown keys on every row" "[print(json.dumps(dict(r, id=i, score=0.3))) for i,r in enumerate(R)]" "ok0 'extra keys ignored'"
mkd "every pair identical responses (all skipped)" "[print(json.dumps(dict(r, rejected=r['chosen']))) for r in R]" "refuse 2 'identical|no pairs|skipped|x.jsonl' o"
mkd "empty chosen strings on all rows" "[print(json.dumps(dict(r, chosen=''))) for r in R]" "refuse 2 'empty|no pairs|skipped|x.jsonl' o"
mkd "a 5000-word response with default --max_length 512 (truncated, counted)" "R[0]['chosen']=' '.join(['ocean']*5000)
for r in R: print(json.dumps(r))" "ok0 'trained; check truncation count'; grep -o 'truncat[^;]*' key.out | head -2"
mkd ".json top-level is an object, not a list" "print(json.dumps({'data': R}))" "refuse 2 'x.jsonl|list|object' o"
mk "a .json file with an empty list" <<'EOF'
echo '[]' > x.json
K TA --train_data x.json --output_dir o --max_steps 1
refuse 2 'x.json|empty|no preference' o
EOF
mk "chat data (system + user prompt, assistant responses) trains" <<'EOF'
K TA --train_data chat16.jsonl --output_dir o --max_steps 2
ok0 "chat trained"
EOF
mk "chat: a 'tool' role message in the prompt (template has no tool branch: renders as assistant?)" <<'EOF'
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['prompt'].append({'role':'tool','content':'river 42'}); print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|tool|role' o
EOF
mk "chat: response role 'user' instead of 'assistant'" <<'EOF'
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['chosen'][0]['role']='user'; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|role|user|assistant' o
EOF
mk "chat: response is a 'system' message" <<'EOF'
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['rejected'][0]['role']='system'; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|role|system|assistant' o
EOF
mk "chat: unknown role 'narrator'" <<'EOF'
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['prompt'][0]['role']='narrator'; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|narrator' o
EOF
mk "chat: prompt messages but chosen/rejected plain strings (mixed formats)" <<'EOF'
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['chosen']=r['chosen'][0]['content']; r['rejected']=r['rejected'][0]['content']; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
if [ $RC = 0 ]; then V unclear "mixed chat prompt / plain responses accepted: check key.out for a word"; else refuse 2 'x.jsonl:1|chosen|message|string' o; fi
EOF
mk "chat: message without 'content'" <<'EOF'
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); del r['chosen'][0]['content']; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|content' o
EOF
mk "chat: content is a list of parts (multimodal style)" <<'EOF'
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['chosen'][0]['content']=[{'type':'text','text':'river'}]; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:1|content' o
EOF
mk "chat: two assistant turns in chosen (multi-turn response)" <<'EOF'
$PY -c "
import json
for l in open('chat16.jsonl'):
    r=json.loads(l); r['chosen']=r['chosen']+[{'role':'assistant','content':'ocean'}]; print(json.dumps(r))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
ok0 "multi-turn response accepted"
EOF
mk "label 0 on every row == the same file with chosen/rejected swapped (same final weights)" <<'EOF'
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
EOF
mk "--eval_data with 0 valid pairs (all identical)" <<'EOF'
$PY -c "
import json
for l in open('d16.jsonl'):
    r=json.loads(l); print(json.dumps(dict(r,rejected=r['chosen'])))" > ev.jsonl
K TA --eval_data ev.jsonl --output_dir o --max_steps 1
refuse 2 'ev.jsonl|eval' o
EOF
mk "--empty_policy error with one identical pair" <<'EOF'
$PY -c "
import json
for i,l in enumerate(open('d16.jsonl')):
    r=json.loads(l); print(json.dumps(dict(r,rejected=r['chosen']) if i==6 else r))" > x.jsonl
K TA --train_data x.jsonl --empty_policy error --output_dir o --max_steps 1
refuse 2 'x.jsonl:7|identical' o
EOF
mk "CRLF line endings" <<'EOF'
sed 's/$/\r/' d16.jsonl > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
ok0 "CRLF accepted"
EOF
