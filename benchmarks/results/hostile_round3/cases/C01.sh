# class: checkpoints: foreign, damaged, odd states
# case: a checkpoint copied from another run (other data, same options) as step-000003 + latest -> it
source /tmp/wh/cases/lib.sh
base
TA --output_dir other --train_data d256.jsonl --max_steps 3 --save_steps 1 --save_total_limit 0 > /dev/null 2>&1
cp -r other/checkpoints/step-000003 o2/checkpoints/; printf step-000003 > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "ignored the foreign one, exact" || V "lost / mixed" "resumed from the other run's checkpoint without a word"; else refuse 2 'checkpoint|run|step-000003'; fi
