# class: sympo-audit: faults
# case: kill -9 during the first-ever audit's writing (10 tries): output dir absent/complete, never partial
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir ref40 >/dev/null 2>&1
cnt=""; bad=0
for t in $(seq 1 10); do
  rm -rf a
  nice -n 10 $VENV/bin/sympo-audit --no_progress --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a > key.out 2>&1 & p=$!
  m=$($PY -c "import random;print(random.choice(['rename','rename','rename','tmp:0','tmp:5','tmp:30','tmp:100']))")
  $PY /tmp/wh/cases/killer.py $p a $m >> kills.txt; wait $p
  s=$($PY /tmp/wh/cases/coh.py a ref40 ref40 | cut -d' ' -f1); cnt="$cnt ${s#STATE=}"
  case $s in STATE=MIXED) bad=$((bad+1));; esac
done
# then a rerun into the killed dir must succeed
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
echo "states:$cnt"; sort kills.txt | uniq -c | paste -sd" "
[ $bad = 0 ] && [ $RC = 0 ] && V handled "states:$cnt; rerun ok" || V "lost / mixed" "$bad partial:$cnt; rerun rc $RC"
