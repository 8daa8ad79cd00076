# class: option edges
# case: --nll_weight inf
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --nll_weight inf
refuse 2 'nll_weight' o
