# class: faults
# case: kill -9 inside checkpoint writes (.tmp-step-* present) at 5 later checkpoints, --resume each; final vs fresh bit-for-bit
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
BIGARGS="${BIGARGS/--max_steps 64/--max_steps 200}"
fresh
log=""
for i in 1 2 3 4 5; do
  cur=$(cat o/checkpoints/latest 2>/dev/null | sed 's/step-0*//'); cur=${cur:-0}; k=$((cur + $($PY -c "import random;print(random.randint(3,25))")))
  if [ $i = 1 ]; then bg --output_dir o; else bg --output_dir o --resume; fi
  until [ "$(cat o/checkpoints/latest 2>/dev/null | sed 's/step-0*//')" -ge $k ] 2>/dev/null; do kill -0 $P 2>/dev/null || break; sleep 0.02; done
  hit=0; for j in $(seq 1 4000); do if ls -a o/checkpoints 2>/dev/null | grep -q '^\.tmp-step'; then kill -9 $P; hit=1; break; fi; kill -0 $P 2>/dev/null || break; done
  wait $P; log="$log k$i(>=$k):hit$hit:$(cat o/checkpoints/latest 2>/dev/null)"
done
echo "$log"
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
r=$(cut -d, -f1 o/metrics.csv | grep -v step | sort -n | uniq -d | wc -l); c=$(cut -d, -f1 o/metrics.csv | grep -vc step); echo "rows $c dup $r"
[ "$r" = 0 ] && [ "$c" = 200 ] && [ "$m" = "MAXDIFF=0.0" ] && [ $RC = 0 ] && V handled "bit-identical: $log" || V silent-wrong "rc $RC $m rows $c dup $r; $log"
