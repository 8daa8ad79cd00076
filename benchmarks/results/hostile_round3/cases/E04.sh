# class: extend a finished run
# case: --resume --max_steps equal to the step reached (4 -> 4)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 4 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' ')
[ $RC = 0 ] && [ "$rows" = "step 1 2 3 4" ] && V handled "nothing to do, rows $rows" || V unclear "rc $RC rows $rows"
