# class: option edges
# case: --nll_weight -1
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --nll_weight -1
refuse 2 'nll_weight' o
