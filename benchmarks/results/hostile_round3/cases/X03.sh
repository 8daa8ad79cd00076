# class: option edges
# case: --beta 1e309 (overflows to inf)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --beta 1e309
refuse 2 'beta' o
