# class: extend a finished run
# case: extend --num_epochs 2 on a run that was started with --max_steps 3 (not an epoch multiple)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 3 > /dev/null 2>&1
K TA --output_dir o --num_epochs 2 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' ')
[ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6 7 8" ] && V handled "8 steps" || V unclear "rc $RC rows $rows"
