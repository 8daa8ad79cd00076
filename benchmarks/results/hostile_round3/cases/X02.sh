# class: option edges
# case: --beta -inf
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --beta -inf
refuse 2 'beta' o
