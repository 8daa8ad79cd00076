# class: option edges
# case: --beta=-1 (the = form, negative)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --beta=-1
refuse 2 'beta' o
