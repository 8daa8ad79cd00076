# class: option edges
# case: --loss_types sft alone
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types sft
refuse 2 'sft|loss' o
