# class: sympo-audit: concurrency
# case: two audits at once into one --output_dir (16-pair and 40-pair data): never mixed (3 tries)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
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
