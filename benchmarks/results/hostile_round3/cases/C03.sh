# class: checkpoints: foreign, damaged, odd states
# case: a checkpoint from a run with another beta copied in (step-000003, latest)
source /tmp/wh/cases/lib.sh
base
TA --output_dir other --max_steps 3 --save_steps 1 --save_total_limit 0 --beta 0.3 > /dev/null 2>&1
cp -r other/checkpoints/step-000003 o2/checkpoints/; printf step-000003 > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "exact" || V "lost / mixed" "resumed from the beta-0.3 run's checkpoint"; else refuse 2 'beta|checkpoint'; fi
