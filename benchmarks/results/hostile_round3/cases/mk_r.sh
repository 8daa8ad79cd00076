n=0
mk() { n=$((n+1)); id=$(printf 'R%02d' $n); { echo "# class: ${2:-resume with changed inputs}"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; cat; } > $id.sh; }
mk "train data edited (one chosen text) before --resume" <<'EOF'
base
$PY -c "import json;r=[json.loads(l) for l in open('d16.jsonl')];r[5]['chosen']='ocean ocean ocean';open('d16.jsonl','w').write(''.join(json.dumps(x)+'\n' for x in r))"
K RES
refuse 2 'train_data|data|changed|pairs'
EOF
mk "train data reordered (reversed) before --resume" <<'EOF'
base
tac d16.jsonl > t && mv t d16.jsonl
K RES
refuse 2 'train_data|data|changed|pairs|order'
EOF
mk "train data appended (16 more pairs) before --resume" <<'EOF'
base
head -16 d256.jsonl >> d16.jsonl
K RES
refuse 2 'train_data|data|changed|pairs'
EOF
mk "train data relabelled (label 0 on one pair) before --resume" <<'EOF'
base
$PY -c "import json;r=[json.loads(l) for l in open('d16.jsonl')];r[2]['label']=0;open('d16.jsonl','w').write(''.join(json.dumps(x)+'\n' for x in r))"
K RES
refuse 2 'train_data|data|changed|label|pairs'
EOF
mk "train data re-serialised (key order, spacing; same pairs) before --resume: accepted and exact?" <<'EOF'
base
$PY -c "import json;r=[json.loads(l) for l in open('d16.jsonl')];open('d16.jsonl','w').write(''.join(json.dumps(dict(reversed(list(x.items()))),indent=None,separators=(' , ',' : '))+'\n' for x in r))"
K RES
if [ $RC = 0 ]; then same_as_o && V handled "accepted, final weights = uninterrupted run" || V silent-wrong "accepted but weights differ"; else refuse 2 'data'; fi
EOF
mk "train data moved to another path (same content), --resume --train_data NEW" <<'EOF'
base
mv d16.jsonl moved.jsonl
K RES --train_data moved.jsonl
if [ $RC = 0 ]; then same_as_o && V handled "accepted (same pairs), exact" || V silent-wrong "accepted, weights differ"; else refuse 2 'train_data'; fi
EOF
mk "train data deleted before --resume" <<'EOF'
base
rm d16.jsonl
K RES
refuse 2 'd16.jsonl|train_data'
EOF
mk "model directory re-exported with other weights (same path) before --resume" <<'EOF'
base
cp model_b/model.safetensors model/model.safetensors
K RES
refuse 2 'model|changed'
EOF
mk "model re-saved with identical weights (load + save_pretrained) before --resume" <<'EOF'
base
$PY -c "from transformers import AutoModelForCausalLM as A; A.from_pretrained('model').save_pretrained('model')" 2>/dev/null
K RES
if [ $RC = 0 ]; then same_as_o && V handled "accepted, exact" || V silent-wrong "accepted, weights differ"; else refuse 2 'model'; fi
EOF
mk "model config.json edited (rms_norm_eps) before --resume" <<'EOF'
base
$PY -c "import json;c=json.load(open('model/config.json'));c['rms_norm_eps']=0.1;json.dump(c,open('model/config.json','w'))"
K RES
refuse 2 'model|changed'
EOF
mk "tokenizer swapped: model dir's tokenizer.json replaced by one with permuted ids, before --resume" <<'EOF'
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
EOF
mk "separate --tokenizer dir swapped for another one of the same size before --resume" <<'EOF'
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
EOF
mk "--config file edited (beta 0.1 -> 0.2) between run and --resume --config" <<'EOF'
printf 'beta: 0.1\n' > c.yaml
base --config c.yaml
printf 'beta: 0.2\n' > c.yaml
K RES --config c.yaml
refuse 2 'beta'
EOF
mk "--config file edited, only logging_steps changed, --resume --config" <<'EOF'
printf 'beta: 0.1\nlogging_steps: 1\n' > c.yaml
base --config c.yaml
printf 'beta: 0.1\nlogging_steps: 2\n' > c.yaml
K RES --config c.yaml
if [ $RC = 0 ]; then same_as_o && V handled "accepted, exact" || V silent-wrong "weights differ"; else V unclear "refused a logging-only change"; fi
EOF
mk "--reference precomputed: ref_logps.pt deleted before --resume (exact?)" <<'EOF'
base --reference precomputed
rm -f o2/ref_logps.pt
K RES
if [ $RC = 0 ]; then same_as_o && V handled "recomputed, exact" || V silent-wrong "weights differ from uninterrupted"; else V unclear "rc $RC"; fi
EOF
mk "--reference precomputed: ref_logps.pt replaced by another run's cache (other data)" <<'EOF'
base --reference precomputed
TA --output_dir other --train_data d256.jsonl --max_steps 1 --reference precomputed > /dev/null 2>&1
cp other/ref_logps.pt o2/ref_logps.pt
K RES
if [ $RC = 0 ]; then same_as_o && V handled "foreign cache detected and recomputed, exact" || V silent-wrong "trained against a foreign cache"; else refuse 2 'ref_logps|cache|reference'; fi
EOF
mk "--reference precomputed: ref_logps.pt truncated to half before --resume" <<'EOF'
base --reference precomputed
s=$(stat -c %s o2/ref_logps.pt); truncate -s $((s/2)) o2/ref_logps.pt
K RES
if [ $RC = 0 ]; then same_as_o && V handled "recomputed, exact" || V silent-wrong "weights differ"; else V unclear "rc $RC"; fi
EOF
mk "--reference precomputed and the model re-exported before --resume" <<'EOF'
base --reference precomputed
cp model_b/model.safetensors model/model.safetensors
K RES
refuse 2 'model|changed'
EOF
mk "--ref_model re-exported (other weights) before --resume" <<'EOF'
cp -r model refm; base --ref_model refm
cp model_b/model.safetensors refm/model.safetensors
K RES
refuse 2 'ref_model|changed|reference'
EOF
mk "--eval_data edited before --resume" <<'EOF'
head -8 d256.jsonl > ev.jsonl; base --eval_data ev.jsonl --eval_steps 1
sed -i '1d' ev.jsonl
K RES
if [ $RC = 0 ]; then V unclear "accepted: eval metrics after step 2 are on other pairs, no word (check key.out)"; else refuse 2 'eval'; fi
EOF
mk "--resume --seed 1 (stored 0)" <<'EOF'
base
K RES --seed 1
refuse 2 'seed'
EOF
mk "--resume --loss_type logistic (stored sigmoid)" <<'EOF'
base
K RES --loss_type logistic
refuse 2 'loss_type'
EOF
mk "--resume --max_length 8 (stored 512; changes truncation)" <<'EOF'
base
K RES --max_length 8
refuse 2 'max_length'
EOF
mk "--resume --label_noise 0.3 (stored 0)" <<'EOF'
base
K RES --label_noise 0.3
refuse 2 'label_noise'
EOF
mk "run.json edited by hand (beta 0.1 -> 0.5) before --resume" <<'EOF'
base
$PY -c "import json;d=json.load(open('o2/run.json'));d['config']['beta']=0.5;json.dump(d,open('o2/run.json','w'))"
K RES
if [ $RC = 0 ]; then same_as_o && V handled "accepted but trained with the checkpoint's beta: exact" || V silent-wrong "accepted, trained with the edited beta, no word"; else refuse 2 'run.json|beta'; fi
EOF
mk "run.json deleted before --resume" <<'EOF'
base
rm o2/run.json
K RES
if [ $RC = 0 ]; then same_as_o && V handled "resumed exactly (options from the checkpoint)" || V silent-wrong "weights differ"; else refuse 2 'run.json'; fi
EOF
mk "run.json not valid JSON before --resume" <<'EOF'
base
echo '{"config": {' > o2/run.json
K RES
refuse 2 'run.json'
EOF
mk "metrics.csv deleted before --resume (do metrics continue?)" <<'EOF'
base
rm o2/metrics.csv
K RES
rows=$(cut -d, -f1 o2/metrics.csv 2>/dev/null | paste -sd' ')
echo "rows: $rows"
if [ $RC = 0 ]; then same_as_o && V handled "exact; metrics.csv rows: $rows" || V silent-wrong "weights differ"; else V unclear "rc $RC"; fi
EOF
mk "metrics.csv holds a row cut short by a kill plus a garbage line" <<'EOF'
base
printf '3,train,0.75,0.49' >> o2/metrics.csv
K RES
rows=$(cut -d, -f1 o2/metrics.csv | paste -sd' ')
if [ $RC = 0 ] && [ "$rows" = "step 1 2 3 4" ]; then V handled "rows $rows"; else V silent-wrong "rc $RC rows: $rows"; fi
EOF
mk "saved datasets directory as --train_data, rows edited (re-saved) before --resume" <<'EOF'
$PY -c "import datasets,json;datasets.Dataset.from_list([json.loads(l) for l in open('d16.jsonl')]).save_to_disk('ds')" >/dev/null 2>&1
TA --output_dir o --train_data ds --max_steps 4 --save_steps 1 --save_total_limit 0 > base.out 2>&1
cp -r o o2; rm -rf o2/checkpoints/step-000003 o2/checkpoints/step-000004 o2/final; printf step-000002 > o2/checkpoints/latest
rm -rf ds; $PY -c "import datasets,json;r=[json.loads(l) for l in open('d16.jsonl')][::-1];datasets.Dataset.from_list(r).save_to_disk('ds')" >/dev/null 2>&1
K RES
refuse 2 'train_data|data|changed|pairs'
EOF
mk "--resume without --output_dir's stored cwd: run from another directory (relative paths in run.json)" <<'EOF'
base
mkdir elsewhere; cp -r model_b elsewhere/model; cp d256.jsonl elsewhere/d16.jsonl
cd elsewhere
K T --output_dir ../o2 --resume --progress false
cd ..
if [ $RC = 0 ]; then same_as_o && V handled "resolved against the run's recorded cwd, exact" || V silent-wrong "used the other directory's model/data"; else refuse 2 'model|data|changed|cwd'; fi
EOF
