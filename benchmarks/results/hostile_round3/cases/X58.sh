# class: option edges
# case: --weight_decay nan
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --weight_decay nan
refuse 2 'weight_decay' o
