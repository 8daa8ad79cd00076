# class: faults
# case: a second sympo-train --overwrite on the PARENT of a live run dir (live run in o/inner)
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
BIGARGS="${BIGARGS/--max_steps 64/--max_steps 100000}"
mkdir o; bg --output_dir o/inner
until [ $(cat o/inner/metrics.csv 2>/dev/null | wc -l) -ge 5 ]; do sleep 0.1; kill -0 $P || break; done
K TA --output_dir o --max_steps 1 --overwrite
echo "o/inner exists: $(ls o/inner 2>&1 | head -3 | paste -sd' ')"
alive=$(kill -0 $P 2>/dev/null && echo yes); kill -INT $P; wait $P; rc1=$?; echo "first: rc $rc1 $(tail -1 bg.out)"
if [ ! -e o/inner/run.json ] || [ ! -d o/inner/checkpoints ]; then V "lost / mixed" "rc $RC: deleted (part of) the live run o/inner under it (run.json: $(ls o/inner/run.json 2>&1 | cut -c1-40)); first run then rc $rc1"; else refuse 2 'in use|lock|run'; fi
