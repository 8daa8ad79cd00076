# class: option edges
# case: --beta 0
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --beta 0
refuse 2 'beta' o
