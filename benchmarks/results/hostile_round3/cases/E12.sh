# class: extend a finished run
# case: extension of a finished run whose last checkpoint is damaged (model.pt truncated)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 --save_steps 2 > /dev/null 2>&1
truncate -s 100 o/checkpoints/step-000004/model.pt
K TA --output_dir o --max_steps 6 --resume
echo "latest: $(cat o/checkpoints/latest)"; rows=$(cut -d, -f1 o/metrics.csv | paste -sd' ')
grep -qi 'step-000004' key.out && [ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6" ] && V handled "fell back to step 2 (named), rows $rows" || V unclear "rc $RC rows $rows"
