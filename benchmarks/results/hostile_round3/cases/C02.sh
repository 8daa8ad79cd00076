# class: checkpoints: foreign, damaged, odd states
# case: checkpoints/ replaced by a symlink to another run's checkpoints (other seed)
source /tmp/wh/cases/lib.sh
base
TA --output_dir other --max_steps 3 --save_steps 1 --save_total_limit 0 --seed 5 > /dev/null 2>&1
rm -rf o2/checkpoints; ln -s ../other/checkpoints o2/checkpoints
K RES
if [ $RC = 0 ]; then V "lost / mixed" "resumed from another run's (seed 5) checkpoint"; else refuse 2 'checkpoint|seed'; fi
