# class: option edges
# case: --seed -1
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --seed -1
refuse 2 'seed' o
