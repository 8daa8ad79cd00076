# class: faults
# case: a second sympo-train on the same run dir through a symlinked path (--resume)
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
BIGARGS="${BIGARGS/--max_steps 64/--max_steps 100000}"
bg --output_dir o; ln -s o lnk
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 3 ]; do sleep 0.1; kill -0 $P || break; done
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir lnk --resume
alive=$(kill -0 $P 2>/dev/null && echo yes); kill -INT $P; wait $P
[ "$alive" = yes ] && refuse 2 'PID|in use|lock' || V "lost / mixed" "first run died"
