# class: sympo-audit: faults
# case: kill -9 during output writing, 20 tries (previous audit = 16 pairs, new = 40): ever mixed?
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir ref16 >/dev/null 2>&1
AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir ref40 >/dev/null 2>&1
cnt=""; mixed=0
for t in $(seq 1 20); do
  rm -rf a; cp -r ref16 a
  nice -n 10 $VENV/bin/sympo-audit --no_progress --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a > key.out 2>&1 & p=$!
  m=$($PY -c "import random;print(random.choice(['rename','rename','rename','tmp:0','tmp:5','tmp:30','tmp:100']))")
  $PY /tmp/wh/cases/killer.py $p a $m >> kills.txt; wait $p
  s=$($PY /tmp/wh/cases/coh.py a ref16 ref40 | cut -d' ' -f1); cnt="$cnt ${s#STATE=}"; [ "$s" = STATE=MIXED ] && { mixed=$((mixed+1)); $PY /tmp/wh/cases/coh.py a ref16 ref40 > mixed_$t.txt; }
done
RC=0; echo "RC=0"; echo "states:$cnt"; sort kills.txt | uniq -c | paste -sd" "; cat mixed_*.txt 2>/dev/null | head -3
[ $mixed = 0 ] && V handled "never mixed:$cnt" || V "lost / mixed" "$mixed of 20 kills left a mix of old and new files:$cnt"
