n=0
mk() { n=$((n+1)); id=$(printf 'A%02d' $n); { echo "# class: sympo-audit: ${2:-}"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; echo 'cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2'; echo 'CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }'; cat; } > $id.sh; }
mk "run-dir defaults (reference, beta, data from run.json); independent margins" "defaults" <<'EOF'
K AU --model $R1 --output_dir a
c=$(CHK a $R1/final $FX/model $FX/a40.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "run-dir defaults from another cwd (cd /)" "defaults" <<'EOF'
cd /; K AU --model $R1 --output_dir $W/a; cd $W
c=$(CHK a $R1/final $FX/model $FX/a40.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || { [ $RC = 2 ] && V unclear "rc 2: $(tail -1 key.out)" || V silent-wrong "rc $RC $c"; }
EOF
mk "run-dir defaults from a cwd holding OTHER files named like the run's inputs (model, a40.jsonl)" "defaults" <<'EOF'
mkdir cw; cp -r model_b cw/model; cp d16.jsonl cw/a40.jsonl; cd cw; K AU --model $R1 --output_dir ../a; cd ..
c=$(CHK a $R1/final $FX/model $FX/a40.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "used the run's recorded cwd: $c" || V silent-wrong "rc $RC $c"
EOF
mk "policy + ref + noisy data explicit; independent margins; flags vs the 10 true flips" "scoring" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model a40_noisy.jsonl 0.2); echo "$c"
fl=$($PY -c "import csv,json;f=json.load(open('$FX/a40_flips.json'));g=[int(r['index']) for r in csv.DictReader(open('a/audit.csv')) if r['flagged']=='1'];print(len(set(f)&set(g)),'of',len(g),'flagged are true flips')")
echo "$fl"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c; $fl" || V silent-wrong "rc $RC $c"
EOF
mk "duplicated rows (0-4 twice, row 2 thrice): one row per input, equal margins" "alignment" <<'EOF'
{ head -5 a40_noisy.jsonl; head -5 a40_noisy.jsonl; sed -n 3p a40_noisy.jsonl; } > dup.jsonl
K AU --model $R1/final --ref_model $FX/model --data dup.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model dup.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "reordered rows (shuffled): margins follow the rows" "alignment" <<'EOF'
shuf --random-source=<(yes) a40_noisy.jsonl > re.jsonl
K AU --model $R1/final --ref_model $FX/model --data re.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model re.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "duplicates + label 0 rows + identical (skipped) rows mixed: alignment" "alignment" <<'EOF'
$PY -c "
import json
R=[json.loads(l) for l in open('a40_noisy.jsonl')][:12]
out=[R[0],dict(R[1],label=0),dict(R[2],rejected=R[2]['chosen']),R[0],dict(R[1],label=0),R[3],dict(R[4],chosen=''),R[5]]
print('\n'.join(json.dumps(x) for x in out))" > mix.jsonl
K AU --model $R1/final --ref_model $FX/model --data mix.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model mix.jsonl 0.2); echo "$c"; cut -d, -f1,2,3,7 a/audit.csv | paste -sd' '
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "policy == reference (every margin 0)" "degenerate" <<'EOF'
K AU --model $FX/model --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
grep -iE 'warn|degenerate|zero|identical|same' key.out | head -3
if [ $RC = 2 ]; then refuse 2 'reference|same|identical'; elif grep -qiE 'identical|same model|all margins|zero|no information' key.out; then V handled "warned"; else V unclear "rc $RC: a number is reported with no word that the policy is the reference"; fi
EOF
mk "NaN in one lm_head weight of the policy" "degenerate" <<'EOF'
cp -r $FX/model nanm; $PY -c "
from safetensors.torch import load_file,save_file
d=load_file('nanm/model.safetensors'); d['lm_head.weight'][3,0]=float('nan'); save_file(d,'nanm/model.safetensors',metadata={'format':'pt'})"
K AU --model nanm --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ] && ! grep -q 'probe_logps_paths' key.out && grep -qiE 'nan|finite' key.out; then V handled "refused, names non-finite"; elif [ $RC = 2 ]; then V unclear "$(tail -1 key.out | cut -c1-200)"; else V silent-wrong "rc $RC"; fi
EOF
mk "NaN everywhere in the reference's embeddings" "degenerate" <<'EOF'
cp -r $FX/model nanr; $PY -c "
from safetensors.torch import load_file,save_file
d=load_file('nanr/model.safetensors'); d['model.embed_tokens.weight'][:]=float('nan'); save_file(d,'nanr/model.safetensors',metadata={'format':'pt'})"
K AU --model $R1/final --ref_model nanr --data a40_noisy.jsonl --beta 0.2 --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ] && grep -qiE 'nan|finite' key.out; then grep -qi 'reference' key.out && V handled "names the reference" || V unclear "says non-finite but blames 'the model': $(tail -1 key.out | cut -c1-200)"; else V silent-wrong "rc $RC"; fi
[ -e a ] && echo "NOTE: a created"
EOF
mk "two audits at once into one --output_dir (16-pair and 40-pair data): never mixed (3 tries)" "concurrency" <<'EOF'
AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir ref16 >/dev/null 2>&1
AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir ref40 >/dev/null 2>&1
res=""
for t in 1 2 3; do
  rm -rf a
  AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir a > k1.out 2>&1 & p1=$!
  AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a > k2.out 2>&1 & p2=$!
  wait $p1; r1=$?; wait $p2; r2=$?
  s=$($PY /tmp/wh/cases/coh.py a ref16 ref40); res="$res [$r1/$r2 ${s%% *}]"; echo "$s"
done
cat k1.out k2.out > key.out; RC=$r2; echo "RC=$RC"; echo "$res"
case "$res" in *MIXED*) V "lost / mixed" "$res";; *) V handled "each time one complete audit: $res";; esac
EOF
mk "kill -9 during output writing, 20 tries (previous audit = 16 pairs, new = 40): ever mixed?" "faults" <<'EOF'
AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir ref16 >/dev/null 2>&1
AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir ref40 >/dev/null 2>&1
cnt=""; mixed=0
for t in $(seq 1 20); do
  rm -rf a; cp -r ref16 a
  nice -n 10 $VENV/bin/sympo-audit --no_progress --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a > key.out 2>&1 & p=$!
  d=$($PY -c "import random;print(random.choice([0,0,1,2,3,5,8,13,20,40]))")
  for j in $(seq 1 20000); do if ls -a a | grep -q 'tmp'; then break; fi; kill -0 $p 2>/dev/null || break; done
  [ $d -gt 0 ] && sleep 0.$(printf %03d $d); kill -9 $p 2>/dev/null; wait $p
  s=$($PY /tmp/wh/cases/coh.py a ref16 ref40 | cut -d' ' -f1); cnt="$cnt ${s#STATE=}"; [ "$s" = STATE=MIXED ] && { mixed=$((mixed+1)); $PY /tmp/wh/cases/coh.py a ref16 ref40 > mixed_$t.txt; }
done
RC=0; echo "RC=0"; echo "states:$cnt"; cat mixed_*.txt 2>/dev/null | head -3
[ $mixed = 0 ] && V handled "never mixed:$cnt" || V "lost / mixed" "$mixed of 20 kills left a mix of old and new files:$cnt"
EOF
mk "kill -9 during the first-ever audit's writing (10 tries): output dir absent/complete, never partial" "faults" <<'EOF'
AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir ref40 >/dev/null 2>&1
cnt=""; bad=0
for t in $(seq 1 10); do
  rm -rf a
  nice -n 10 $VENV/bin/sympo-audit --no_progress --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a > key.out 2>&1 & p=$!
  d=$($PY -c "import random;print(random.choice([0,1,3,8,20]))")
  for j in $(seq 1 20000); do if ls -a a 2>/dev/null | grep -q 'tmp'; then break; fi; kill -0 $p 2>/dev/null || break; done
  [ $d -gt 0 ] && sleep 0.$(printf %03d $d); kill -9 $p 2>/dev/null; wait $p
  s=$($PY /tmp/wh/cases/coh.py a ref40 ref40 | cut -d' ' -f1); cnt="$cnt ${s#STATE=}"
  case $s in STATE=MIXED) bad=$((bad+1));; esac
done
# then a rerun into the killed dir must succeed
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
echo "states:$cnt"
[ $bad = 0 ] && [ $RC = 0 ] && V handled "states:$cnt; rerun ok" || V "lost / mixed" "$bad partial:$cnt; rerun rc $RC"
EOF
mk "foreign files in --output_dir (notes.txt + audit.csv of the user)" "output dir" <<'EOF'
mkdir a; echo precious > a/notes.txt; echo mine > a/audit.csv
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
[ "$(cat a/audit.csv)" = mine ] && [ -e a/notes.txt ] || { V "lost / mixed" "user files replaced"; exit; }
refuse 2 'holds other files|notes.txt'
EOF
mk "--output_dir holds only a user's own audit.csv (not from sympo-audit)" "output dir" <<'EOF'
mkdir a; echo "my,own,spreadsheet" > a/audit.csv
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
if [ "$(head -1 a/audit.csv)" != "my,own,spreadsheet" ]; then V "lost / mixed" "the user's audit.csv (no summary.json, not an audit) was overwritten, rc $RC"; else refuse 2 'audit.csv|holds|other'; fi
EOF
mk "--output_dir holds a hidden file (.keep) and a subdirectory" "output dir" <<'EOF'
mkdir -p a/sub; echo k > a/.keep; echo s > a/sub/f
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
[ -e a/.keep ] && [ -e a/sub/f ] || { V "lost / mixed" "deleted"; exit; }
if [ $RC = 0 ]; then V unclear "wrote into a dir holding other entries (.keep, sub/) without a word"; else refuse 2 'holds other|keep|sub'; fi
EOF
mk "uncreatable --output_dir (/proc/wh_out)" "output dir" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir /proc/wh_out
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] || [ $RC = 2 ]; then grep -qE 'output_dir|/proc/wh_out' key.out && grep -qiE 'creat|cannot|could not' key.out && V handled "rc $RC names it" || V unclear "$(tail -1 key.out | cut -c1-200)"; else V unclear "rc $RC"; fi
EOF
mk "--output_dir on a read-only file system (new subdir)" "output dir" <<'EOF'
mkdir ro; mount -t tmpfs -o ro,size=1m tmpfs ro
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir ro/out; umount ro
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] || [ $RC = 2 ]; then grep -qiE 'read-only|ro/out' key.out && V handled "rc $RC" || V unclear "$(tail -1 key.out)"; else V unclear "rc $RC"; fi
EOF
mk "existing previous audit on a file system that turns read-only: exit 4, previous intact" "output dir" <<'EOF'
mkdir mnt; mount -t tmpfs -o size=2m tmpfs mnt
AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir mnt/a >/dev/null 2>&1; cp -r mnt/a ref16
mount -o remount,ro mnt
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir mnt/a
s=$($PY /tmp/wh/cases/coh.py mnt/a ref16 ref16); echo "$s"; umount mnt
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] && [[ "$s" == STATE=old* ]]; then V handled "4, previous intact"; else V unclear "rc $RC $s"; fi
EOF
mk "full disk while writing (tmpfs 48k) with a previous audit present" "output dir" <<'EOF'
AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir ref16 >/dev/null 2>&1
mkdir mnt; mount -t tmpfs -o size=64k tmpfs mnt; cp -r ref16 mnt/a; df -k mnt | tail -1
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir mnt/a
s=$($PY /tmp/wh/cases/coh.py mnt/a ref16 ref16); echo "$s"; umount mnt
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] && [[ "$s" == STATE=old* ]]; then V handled "4, previous intact: $s"; elif [ $RC = 0 ]; then V handled "fitted"; else V "lost / mixed" "rc $RC $s"; fi
EOF
mk "--output_dir is an existing file" "output dir" <<'EOF'
echo x > afile
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir afile
[ "$(cat afile)" = x ] || { V "lost / mixed" "file replaced"; exit; }
refuse 2 'afile|not a directory'
EOF
mk "--output_dir = the run directory" "output dir" <<'EOF'
cp -r $R1 run1c
K AU --model run1c --output_dir run1c
[ -e run1c/final/model.safetensors ] || { V "lost / mixed" "run damaged"; exit; }
refuse 2 'holds other files|run1c'
EOF
mk "--data inside --output_dir named cleaned.jsonl" "output dir" <<'EOF'
mkdir a; cp a40_noisy.jsonl a/cleaned.jsonl; md5sum a/cleaned.jsonl > m
K AU --model $R1/final --ref_model $FX/model --data a/cleaned.jsonl --beta 0.2 --output_dir a
md5sum -c --quiet m || { V "lost / mixed" "data overwritten"; exit; }
refuse 2 'cleaned.jsonl|overwritten'
EOF
mk "cleaned.jsonl in --output_dir is a symlink to the user's data (a previous audit dir)" "output dir" <<'EOF'
AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a >/dev/null 2>&1
cp a40_noisy.jsonl keep.jsonl; md5sum keep.jsonl > m; rm a/cleaned.jsonl; ln -s ../keep.jsonl a/cleaned.jsonl
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --relabel --output_dir a
md5sum -c --quiet m || { V "lost / mixed" "write went through the symlink into keep.jsonl"; exit; }
ok0 "link replaced, target intact"
EOF
mk "--beta nan / 0" "bad inputs" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta nan --output_dir a
r1=$RC; refuse 2 'beta' a | head -1 > v1
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0 --output_dir a
refuse 2 'beta' a
EOF
mk "--data missing file" "bad inputs" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data nope.jsonl --beta 0.2 --output_dir a
refuse 2 'nope.jsonl' a
EOF
mk "--data invalid JSON on line 3" "bad inputs" <<'EOF'
{ head -2 a40.jsonl; echo '{"prompt": "x", chosen}'; } > bad.jsonl
K AU --model $R1/final --ref_model $FX/model --data bad.jsonl --beta 0.2 --output_dir a
refuse 2 'bad.jsonl:3' a
EOF
mk "--data label '1' (string)" "bad inputs" <<'EOF'
{ head -2 a40.jsonl; sed -n 3p a40.jsonl | sed 's/}$/, "label": "1"}/'; } > bad.jsonl
K AU --model $R1/final --ref_model $FX/model --data bad.jsonl --beta 0.2 --output_dir a
refuse 2 'bad.jsonl:3|label' a
EOF
mk "--threshold 1.5 / nan" "bad inputs" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --threshold nan --output_dir a
refuse 2 'threshold' a
EOF
mk "--folds 1" "bad inputs" <<'EOF'
K AU --model $R1 --folds 1 --output_dir a
refuse 2 'folds' a
EOF
mk "run dir without final/ (run killed before the end)" "defaults" <<'EOF'
cp -r $R1 r; rm -rf r/final
K AU --model r --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ] && grep -qiE 'final|checkpoint' key.out; then V handled "refused naming final/"; elif [ $RC = 0 ]; then V unclear "scored something: check which policy ($(tail -1 key.out | cut -c1-100))"; else V unclear "rc $RC $(tail -1 key.out)"; fi
EOF
mk "run dir whose run.json is missing" "defaults" <<'EOF'
cp -r $R1 r; rm r/run.json
K AU --model r --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ]; then grep -qiE 'run.json|ref_model|reference' key.out && V handled "refused: $(tail -1 key.out | cut -c1-150)" || V unclear "$(tail -1 key.out)"; else V unclear "rc $RC"; fi
EOF
mk "run dir whose reference model was moved away since training" "defaults" <<'EOF'
mkdir t; cp -r model t/model; cp a40.jsonl t/; cd t
nice -n 10 sympo-train --model model --train_data a40.jsonl --output_dir run --beta 0.2 --batch_size 8 --max_steps 2 --progress false >/dev/null 2>&1
mv model model_moved; cd ..
K AU --model t/run --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ] && grep -qiE 'run.json|recorded|the run' key.out; then V handled "$(tail -1 key.out | cut -c1-200)"; elif [ $RC = 2 ]; then V unclear "$(tail -1 key.out | cut -c1-200)"; else V silent-wrong "rc $RC"; fi
EOF
mk "run dir whose reference model was re-exported (other weights) since training" "defaults" <<'EOF'
mkdir t; cp -r model t/model; cp a40.jsonl t/; cd t
nice -n 10 sympo-train --model model --train_data a40.jsonl --output_dir run --beta 0.2 --batch_size 8 --max_steps 2 --progress false >/dev/null 2>&1
cp ../model_b/model.safetensors model/model.safetensors; cd ..
K AU --model t/run --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ]; then grep -qiE 'changed|fingerprint|differ' key.out && V handled "$(tail -1 key.out | cut -c1-200)" || V unclear "$(tail -1 key.out)"; elif grep -qiE 'changed|fingerprint|differ' key.out; then V handled "warned"; else V silent-wrong "scored against a reference other than the run's, no word"; fi
EOF
mk "run dir whose training data file was edited since training (default --data)" "defaults" <<'EOF'
mkdir t; cp -r model t/model; cp a40.jsonl t/; cd t
nice -n 10 sympo-train --model model --train_data a40.jsonl --output_dir run --beta 0.2 --batch_size 8 --max_steps 2 --progress false >/dev/null 2>&1
head -20 a40.jsonl > x && mv x a40.jsonl; cd ..
K AU --model t/run --output_dir a
if tb; then V traceback "rc $RC"; elif grep -qiE 'changed|fingerprint|differ|not the data' key.out; then V handled "$(grep -iE 'changed|fingerprint|differ' key.out | head -1 | cut -c1-200)"; elif [ $RC = 0 ]; then V unclear "audited the edited file (20 pairs) as 'the run's data' without a word"; else V unclear "rc $RC"; fi
EOF
mk "identical / empty responses keep their rows (skipped); independent margins" "alignment" <<'EOF'
$PY -c "
import json
R=[json.loads(l) for l in open('a40_noisy.jsonl')]
R[3]['rejected']=R[3]['chosen']; R[7]['chosen']=''
print('\n'.join(json.dumps(x) for x in R))" > sk.jsonl
K AU --model $R1/final --ref_model $FX/model --data sk.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model sk.jsonl 0.2); echo "$c"; sed -n '5p;9p' a/audit.csv
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "--relabel: flagged pairs swapped in cleaned.jsonl; extra fields kept?" "outputs" <<'EOF'
$PY -c "
import json
for i,l in enumerate(open('a40_noisy.jsonl')): print(json.dumps(dict(json.loads(l), id=i, meta={'src':'x'})))" > ex.jsonl
K AU --model $R1/final --ref_model $FX/model --data ex.jsonl --beta 0.2 --relabel --output_dir a
$PY -c "
import json,csv
inp=[json.loads(l) for l in open('ex.jsonl')]; cl=[json.loads(l) for l in open('a/cleaned.jsonl')]
fl=[r['flagged']=='1' for r in csv.DictReader(open('a/audit.csv'))]
bad=[i for i,(a,b,f) in enumerate(zip(inp,cl,fl)) if (b['chosen'],b['rejected'])!=((a['rejected'],a['chosen']) if f else (a['chosen'],a['rejected']))]
lost=[i for i,(a,b) in enumerate(zip(inp,cl)) if 'id' not in b or 'meta' not in b]
print('len',len(inp),len(cl),'flagged',sum(fl),'wrong swaps',bad[:5],'rows without id/meta',len(lost))" | tee r.txt
grep -q "wrong swaps \[\] rows without id/meta 0" r.txt && V handled "$(cat r.txt)" || { grep -q "wrong swaps \[\]" r.txt && V "lost / mixed" "cleaned.jsonl drops the user's fields: $(cat r.txt)" || V silent-wrong "$(cat r.txt)"; }
EOF
mk "--reference none: margins = beta * log pi (independent)" "scoring" <<'EOF'
K AU --model $R1/final --reference none --data a40_noisy.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final none a40_noisy.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "--batch_size 1 vs 16: identical audit.csv" "scoring" <<'EOF'
AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir b16 >/dev/null 2>&1
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --batch_size 1 --output_dir a
d=$($PY -c "
import csv
a=list(csv.DictReader(open('a/audit.csv'))); b=list(csv.DictReader(open('b16/audit.csv')))
print(max(abs(float(x['margin'])-float(y['margin'])) for x,y in zip(a,b)), [x['rank'] for x in a]==[y['rank'] for y in b])")
echo "$d"
[ $RC = 0 ] && $PY -c "import sys; m,r='$d'.split(); sys.exit(0 if float(m)<1e-5 and r=='True' else 1)" && V handled "max margin diff, same ranks: $d" || V silent-wrong "$d"
EOF
mk "--method sign: suspicion = sigmoid(-margin), estimate = share of negative margins" "scoring" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --method sign --output_dir a
r=$($PY -c "
import csv,json,math
a=list(csv.DictReader(open('a/audit.csv'))); s=json.load(open('a/summary.json'))
d=max(abs(float(x['suspicion'])-1/(1+math.exp(float(x['margin'])))) for x in a)
neg=sum(float(x['margin'])<0 for x in a)/len(a)
print(d, abs(neg-s['noise_rate_estimate']))")
echo "$r"
[ $RC = 0 ] && $PY -c "import sys; a,b='$r'.split(); sys.exit(0 if float(a)<1e-9 and float(b)<1e-9 else 1)" && V handled "$r" || V silent-wrong "$r"
EOF
mk "--threshold 0: flags every pair with suspicion > 0 strictly" "scoring" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --threshold 0 --output_dir a
c=$(CHK a $R1/final $FX/model a40_noisy.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "chat data: independent margins through the chat template" "scoring" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data chat16.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model chat16.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "reference with another vocabulary size" "bad inputs" <<'EOF'
$PY -c "
from transformers import AutoModelForCausalLM as A
m=A.from_pretrained('$FX/model'); m.resize_token_embeddings(150); m.save_pretrained('big')" >/dev/null 2>&1
K AU --model $R1/final --ref_model big --data a40_noisy.jsonl --beta 0.2 --output_dir a
refuse 2 'vocab' a
EOF
mk "a previous audit + a user file in the dir: refused, previous intact" "output dir" <<'EOF'
AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir a >/dev/null 2>&1; cp -r a ref16; echo mine > a/notes.txt
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
s=$($PY /tmp/wh/cases/coh.py a ref16 ref16); echo "$s"
[[ "$s" == STATE=old* ]] || { V "lost / mixed" "$s"; exit; }
refuse 2 'notes.txt|other files'
EOF
mk "SIGINT during scoring" "faults" <<'EOF'
nice -n 10 $VENV/bin/sympo-audit --no_progress --model $R1/final --ref_model $FX/model --data d256.jsonl --beta 0.2 --output_dir a > key.out 2>&1 & p=$!
sleep 4; kill -INT $p; wait $p; RC=$?; echo "RC=$RC"; ls a 2>&1 | head -3
if tb; then V traceback "rc $RC (KeyboardInterrupt traceback)"; elif [ $RC = 130 ] && [ ! -e a ]; then V handled "130, nothing written"; elif [ $RC = 0 ]; then V handled "finished before the signal"; else V unclear "rc $RC"; fi
EOF
mk "--split with a JSONL file (not a DatasetDict)" "bad inputs" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --split test --beta 0.2 --output_dir a
if [ $RC = 0 ]; then V unclear "--split test accepted and ignored for a JSONL file"; else refuse 2 'split' a; fi
EOF
mk "--beta given with a run dir differs from the run's: honoured (independent margins at 0.5)" "defaults" <<'EOF'
K AU --model $R1 --beta 0.5 --output_dir a
c=$(CHK a $R1/final $FX/model $FX/a40.jsonl 0.5); echo "$c"; grep -i beta key.out | head -2
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "--max_length 6 (responses truncated): margins over the kept tokens only? (independent)" "scoring" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --max_length 6 --output_dir a
sk=$(grep -c 'skipped_too_long' a/audit.csv 2>/dev/null); echo "skipped too long: $sk"
grep -iE 'truncat' key.out | head -2
if [ $RC = 0 ]; then grep -qiE 'truncat' key.out a/summary.json && V handled "truncation reported" || V unclear "rc 0: margins of truncated responses, not said in the last line or summary"; else refuse 2 'max_length'; fi
EOF
mk "--model run dir with --data of another run's labels (label field all 0)" "scoring" <<'EOF'
$PY -c "
import json
for l in open('a40_noisy.jsonl'): r=json.loads(l); print(json.dumps(dict(r,chosen=r['rejected'],rejected=r['chosen'],label=0)))" > l0.jsonl
K AU --model $R1/final --ref_model $FX/model --data l0.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model l0.jsonl 0.2); echo "$c"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c" || V silent-wrong "rc $RC $c"
EOF
mk "--device cuda without a GPU" "bad inputs" <<'EOF'
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --device cuda --output_dir a
refuse 2 'cuda' a
EOF
mk "--tokenizer with permuted ids (same size)" "bad inputs" <<'EOF'
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
EOF
