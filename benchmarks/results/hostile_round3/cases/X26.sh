# class: option edges
# case: --loss_weights without --loss_types
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_weights 2
refuse 2 'loss_weights' o
