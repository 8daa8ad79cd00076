# class: faults
# case: a second sympo-train --overwrite with --output_dir = the live run's checkpoints/ subdirectory
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
BIGARGS="${BIGARGS/--max_steps 64/--max_steps 100000}"
bg --output_dir o --save_total_limit 0
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 5 ]; do sleep 0.1; kill -0 $P || break; done
n1=$(ls o/checkpoints | grep -c step); first=$(ls o/checkpoints | grep "^step" | head -n $n1 | paste -sd" ")
K TA --output_dir o/checkpoints --max_steps 1 --overwrite
n2=$(ls o/checkpoints | grep -c '^step'); echo "step dirs before $n1 after $n2; $(ls o/checkpoints | head -5 | paste -sd' ')"
alive=$(kill -0 $P 2>/dev/null && echo yes); kill -INT $P; wait $P; echo "first run: $(tail -1 bg.out)"
gone=""; for d in $first; do [ -d o/checkpoints/$d ] || gone="$gone $d"; done; echo "checkpoints of the live run deleted:$gone"
if [ -n "$gone" ]; then V "lost / mixed" "rc $RC ($(tail -n1 key.out | cut -c1-80)): the live run lost its checkpoints$gone (--save_total_limit 0 keeps all)"; elif [ $RC = 0 ]; then V "lost / mixed" "the second run emptied the live run's checkpoints/ and wrote its own run into it (steps before $n1, after $n2)"; else refuse 2 'run|inside|in use|lock|checkpoints'; fi
