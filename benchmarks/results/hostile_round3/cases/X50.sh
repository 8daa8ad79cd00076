# class: option edges
# case: --eval_fraction 1.0 (no train pairs left)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --eval_fraction 1.0
refuse 2 'eval_fraction' o
