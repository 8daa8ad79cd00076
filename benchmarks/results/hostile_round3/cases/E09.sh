# class: extend a finished run
# case: extend with --max_steps 0 --num_epochs 2 (stored max_steps 4)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 0 --num_epochs 2 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' ')
[ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6 7 8" ] && V handled "8 steps (2 epochs)" || V unclear "rc $RC rows=$rows"
