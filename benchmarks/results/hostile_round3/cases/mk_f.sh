n=0
mk() { n=$((n+1)); id=$(printf 'F%02d' $n); { echo "# class: ${2:-faults}"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; cat; } > $id.sh; }
cat > /tmp/wh/cases/flib.sh <<'EOF'
# BIG: the 64-step run on d256 with a checkpoint per step
BIGARGS="--model model --train_data d256.jsonl --batch_size 4 --progress false --max_steps 64 --save_steps 1"
bg() { nice -n 10 $VENV/bin/sympo-train $BIGARGS "$@" > bg.out 2>&1 & P=$!; }
fresh() { TA_=1; nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir f "$@" > fresh.out 2>&1; }
rows_ok() { local r; r=$(cut -d, -f1 $1/metrics.csv | grep -v step | sort -n | uniq -d | wc -l); local c; c=$(cut -d, -f1 $1/metrics.csv | grep -vc step); echo "metrics rows=$c dup=$r"; [ "$r" = 0 ] && [ "$c" = 64 ]; }
EOF
mk "kill -9 eight times at random moments (save_steps 1), --resume each time; final vs a fresh run bit-for-bit, metrics rows" <<'EOF'
source /tmp/wh/cases/flib.sh
fresh
log=""
for i in 1 2 3 4 5 6 7 8; do
  if [ $i = 1 ]; then bg --output_dir o; else bg --output_dir o --resume; fi
  t=$($PY -c "import random;print(round(random.uniform(2.0,7.0),2))"); sleep $t; kill -9 $P 2>/dev/null; wait $P; rc=$?
  log="$log k$i@${t}s:rc$rc:$(cat o/checkpoints/latest 2>/dev/null)"; ls -a o/checkpoints 2>/dev/null | grep -q tmp && log="$log(tmp)"
done
echo "$log"
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
rows_ok o && [ "$m" = "MAXDIFF=0.0" ] && [ $RC = 0 ] && V handled "bit-identical after 8 kills: $log" || V silent-wrong "rc $RC $m $log"
EOF
mk "kill -9 inside checkpoint writes (.tmp-step-* present) five times, --resume; final vs fresh" <<'EOF'
source /tmp/wh/cases/flib.sh
fresh
log=""
for i in 1 2 3 4 5; do
  if [ $i = 1 ]; then bg --output_dir o; else bg --output_dir o --resume; fi
  hit=0; for j in $(seq 1 4000); do if ls -a o/checkpoints 2>/dev/null | grep -q '^\.tmp-step'; then kill -9 $P; hit=1; break; fi; kill -0 $P 2>/dev/null || break; done
  wait $P; log="$log k$i:hit$hit:$(cat o/checkpoints/latest 2>/dev/null)"
done
echo "$log"
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
rows_ok o && [ "$m" = "MAXDIFF=0.0" ] && [ $RC = 0 ] && V handled "bit-identical: $log" || V silent-wrong "rc $RC $m $log"
EOF
mk "kill -9 while final/ is being written (final.tmp present), then --resume" <<'EOF'
source /tmp/wh/cases/flib.sh
fresh
bg --output_dir o
hit=0; for j in $(seq 1 20000); do if ls -a o 2>/dev/null | grep -q 'final'; then kill -9 $P; hit=1; break; fi; kill -0 $P 2>/dev/null || break; done; wait $P
echo "hit=$hit; $(ls -a o)"
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "final written on resume, exact (hit=$hit)" || V silent-wrong "rc $RC $m"
EOF
mk "SIGINT twice in quick succession mid-run: status, then --resume exact" <<'EOF'
source /tmp/wh/cases/flib.sh
fresh
bg --output_dir o
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 8 ]; do sleep 0.1; kill -0 $P || break; done
kill -INT $P; sleep 0.05; kill -INT $P; wait $P; rc1=$?; echo "rc1=$rc1"; tail -2 bg.out
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
[ $rc1 = 130 ] && ! grep -q Traceback bg.out && [ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && rows_ok o && V handled "130, then exact" || V unclear "rc1 $rc1 rc $RC $m"
EOF
mk "SIGTERM once mid-run: 143 + checkpoint; --resume exact" <<'EOF'
source /tmp/wh/cases/flib.sh
fresh
bg --output_dir o
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 8 ]; do sleep 0.1; kill -0 $P || break; done
kill -TERM $P; wait $P; rc1=$?; echo "rc1=$rc1"; tail -1 bg.out
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
[ $rc1 = 143 ] && [ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && rows_ok o && V handled "143, exact" || V unclear "rc1 $rc1 rc $RC $m"
EOF
mk "tb/ deleted while the run is live" <<'EOF'
source /tmp/wh/cases/flib.sh
bg --output_dir o
until [ -d o/tb ] && [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 4 ]; do sleep 0.05; kill -0 $P || break; done
rm -rf o/tb; wait $P; RC=$?; echo RC=$RC; cp bg.out key.out
echo "tb after: $(ls o/tb 2>&1 | head -2)"
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] && grep -qi 'tb' key.out; then V handled "stopped, status 4 naming tb/"; elif [ $RC = 0 ] && [ -d o/tb ]; then V handled "tb/ recreated, rc 0"; elif [ $RC = 0 ]; then V silent-wrong "rc 0, TensorBoard events after the deletion lost without a word"; else V unclear "rc $RC"; fi
EOF
mk "metrics.csv deleted while the run is live" <<'EOF'
source /tmp/wh/cases/flib.sh
bg --output_dir o
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 4 ]; do sleep 0.05; kill -0 $P || break; done
rm -f o/metrics.csv; wait $P; RC=$?; echo RC=$RC; cp bg.out key.out
rows=$(cut -d, -f1 o/metrics.csv 2>/dev/null | head -3 | paste -sd' '); echo "metrics head: $rows"
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ]; then V handled "stopped, 4"; elif [ $RC = 0 ] && [ -e o/metrics.csv ] && head -1 o/metrics.csv | grep -q '^step'; then V handled "recreated with header ($rows)"; elif [ $RC = 0 ]; then V silent-wrong "rc 0; metrics.csv: $rows (rows lost/no header, no word)"; else V unclear "rc $RC"; fi
EOF
mk "--output_dir on a read-only file system (new subdirectory)" <<'EOF'
mkdir ro; mount -t tmpfs -o ro,size=1m tmpfs ro
K TA --output_dir ro/out --max_steps 1
umount ro
refuse 2 'ro/out|output_dir|read-only'
EOF
mk "--output_dir an existing empty dir on a read-only file system" <<'EOF'
mkdir ro; mount -t tmpfs -o size=1m tmpfs ro; mkdir ro/out; mount -o remount,ro ro
K TA --output_dir ro/out --max_steps 1
umount ro
refuse 2 'ro/out|output_dir|read-only'
EOF
mk "file system remounted read-only while the run is live" <<'EOF'
source /tmp/wh/cases/flib.sh
mkdir mnt; mount -t tmpfs -o size=20m tmpfs mnt
bg --output_dir mnt/o
until [ $(cat mnt/o/metrics.csv 2>/dev/null | wc -l) -ge 4 ]; do sleep 0.05; kill -0 $P || break; done
mount -o remount,ro mnt; wait $P; RC=$?; echo RC=$RC; cp bg.out key.out
echo "latest: $(cat mnt/o/checkpoints/latest)"; umount mnt
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ]; then V handled "status 4"; else V unclear "rc $RC"; fi
EOF
mk "a second sympo-train on the same run dir through a symlinked path (--resume)" <<'EOF'
source /tmp/wh/cases/flib.sh
BIGARGS="${BIGARGS/--max_steps 64/--max_steps 100000}"
bg --output_dir o; ln -s o lnk
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 3 ]; do sleep 0.1; kill -0 $P || break; done
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir lnk --resume
alive=$(kill -0 $P 2>/dev/null && echo yes); kill -INT $P; wait $P
[ "$alive" = yes ] && refuse 2 'PID|in use|lock' || V "lost / mixed" "first run died"
EOF
mk "a second sympo-train --overwrite with --output_dir = the live run's checkpoints/ subdirectory" <<'EOF'
source /tmp/wh/cases/flib.sh
BIGARGS="${BIGARGS/--max_steps 64/--max_steps 100000}"
bg --output_dir o --save_total_limit 0
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 5 ]; do sleep 0.1; kill -0 $P || break; done
n1=$(ls o/checkpoints | grep -c step)
K TA --output_dir o/checkpoints --max_steps 1 --overwrite
n2=$(ls o/checkpoints | grep -c '^step'); echo "step dirs before $n1 after $n2; $(ls o/checkpoints | head -5 | paste -sd' ')"
alive=$(kill -0 $P 2>/dev/null && echo yes); kill -INT $P; wait $P; echo "first run: $(tail -1 bg.out)"
if [ $RC = 0 ]; then V "lost / mixed" "the second run emptied the live run's checkpoints/ and wrote its own run into it (steps before $n1, after $n2)"; else refuse 2 'run|inside|in use|lock|checkpoints'; fi
EOF
mk "a second sympo-train --overwrite on the PARENT of a live run dir (live run in o/inner)" <<'EOF'
source /tmp/wh/cases/flib.sh
BIGARGS="${BIGARGS/--max_steps 64/--max_steps 100000}"
mkdir o; bg --output_dir o/inner
until [ $(cat o/inner/metrics.csv 2>/dev/null | wc -l) -ge 5 ]; do sleep 0.1; kill -0 $P || break; done
K TA --output_dir o --max_steps 1 --overwrite
echo "o/inner exists: $(ls o/inner 2>&1 | head -3 | paste -sd' ')"
alive=$(kill -0 $P 2>/dev/null && echo yes); kill -INT $P; wait $P; rc1=$?; echo "first: rc $rc1 $(tail -1 bg.out)"
if [ $RC = 0 ] && [ ! -d o/inner/checkpoints ]; then V "lost / mixed" "deleted a live run (o/inner) under it; first run then rc $rc1"; else refuse 2 'in use|lock|run'; fi
EOF
mk "disk full while --reference precomputed writes ref_logps.pt (tmpfs)" <<'EOF'
mkdir mnt; mount -t tmpfs -o size=140k tmpfs mnt
K TA --output_dir mnt/o --train_data d256.jsonl --reference precomputed --max_steps 2 --tensorboard off
ls -a mnt/o 2>&1 | paste -sd' '; df -k mnt | tail -1; umount mnt
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ]; then V handled "status 4"; elif [ $RC = 0 ]; then V handled "fitted"; else V unclear "rc $RC"; fi
EOF
mk "SIGTERM during start-up (before the first step), then --resume" <<'EOF'
source /tmp/wh/cases/flib.sh
fresh
bg --output_dir o
until [ -e o/run.json ]; do sleep 0.02; kill -0 $P || break; done; kill -TERM $P; wait $P; rc1=$?
echo "rc1=$rc1 $(ls o 2>&1 | paste -sd' ')"
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "rc1 $rc1; resume exact" || V unclear "rc1 $rc1 rc $RC $m"
EOF
mk "SIGINT after 'done:' while the process exits (signal flood at the end)" <<'EOF'
source /tmp/wh/cases/flib.sh
bg --output_dir o
until grep -q 'done:' bg.out; do sleep 0.01; kill -0 $P 2>/dev/null || break; done
for i in 1 2 3; do kill -INT $P 2>/dev/null; done; wait $P; RC=$?; echo RC=$RC; cp bg.out key.out
if tb; then V traceback "rc $RC"; elif [ $RC = 0 ]; then V handled "0 kept"; else V unclear "finished run exited $RC"; fi
EOF
