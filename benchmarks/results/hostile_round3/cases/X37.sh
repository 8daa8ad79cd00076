# class: option edges
# case: --learning_rate nan
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --learning_rate nan
refuse 2 'learning_rate' o
