# class: extend a finished run
# case: extended run vs its own data order: steps 5-8 of an extended 4->8 run use epoch 2's order = a fresh 8-step run's batches (num_tokens per step equal)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 > /dev/null 2>&1
TA --output_dir o --max_steps 8 --resume > key.out 2>&1; RC=$?; echo RC=$RC
TA --output_dir f --max_steps 8 > /dev/null 2>&1
a=$(cut -d, -f15 o/metrics.csv | paste -sd' '); b=$(cut -d, -f15 f/metrics.csv | paste -sd' ')
echo "ext: $a"; echo "fresh: $b"
[ "$a" = "$b" ] && V handled "num_tokens per step equal to a fresh 8-step run" || V silent-wrong "batches differ: $a vs $b"
