# class: faults
# case: kill -9 eight times at random moments mid-training (300 steps, save_steps 1), --resume each time; final vs a fresh run bit-for-bit, metrics rows
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
BIGARGS="${BIGARGS/--max_steps 64/--max_steps 300}"
fresh
log=""
for i in 1 2 3 4 5 6 7 8; do
  if [ $i = 1 ]; then bg --output_dir o; else bg --output_dir o --resume; fi
  t=$($PY -c "import random;print(round(random.uniform(3.0,9.0),2))"); sleep $t; kill -9 $P 2>/dev/null; wait $P; rc=$?
  log="$log k$i@${t}s:rc$rc:$(cat o/checkpoints/latest 2>/dev/null)"; ls -a o/checkpoints 2>/dev/null | grep -q tmp && log="$log(tmp)"
done
echo "$log"
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
r=$(cut -d, -f1 o/metrics.csv | grep -v step | sort -n | uniq -d | wc -l); c=$(cut -d, -f1 o/metrics.csv | grep -vc step); echo "rows $c dup $r"
[ "$r" = 0 ] && [ "$c" = 300 ] && [ "$m" = "MAXDIFF=0.0" ] && [ $RC = 0 ] && V handled "bit-identical after 8 kills, 300 rows once: $log" || V silent-wrong "rc $RC $m rows $c dup $r; $log"
