# class: extend a finished run
# case: extend with eval: eval rows continue (eval_steps 2)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 --eval_fraction 0.25 --eval_steps 2 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --eval_fraction 0.25 --eval_steps 2 --resume
ev=$(grep ',eval,' o/metrics.csv | cut -d, -f1 | paste -sd' ')
echo "eval rows at steps: $ev"
[ $RC = 0 ] && [ "$ev" = "2 4 6 8" ] && V handled "eval at 2 4 6 8" || V unclear "rc $RC eval rows: $ev"
