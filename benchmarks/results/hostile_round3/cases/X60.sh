# class: option edges
# case: --eval_steps -5
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --eval_steps -5
refuse 2 'eval_steps' o
