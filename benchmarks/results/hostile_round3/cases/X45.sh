# class: option edges
# case: --max_grad_norm -1
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --max_grad_norm -1
refuse 2 'max_grad_norm' o
