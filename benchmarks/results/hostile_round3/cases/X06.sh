# class: option edges
# case: --temperature inf
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --temperature inf
refuse 2 'temperature' o
