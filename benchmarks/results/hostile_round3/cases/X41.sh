# class: option edges
# case: --grad_accum 0
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --grad_accum 0
refuse 2 'grad_accum' o
