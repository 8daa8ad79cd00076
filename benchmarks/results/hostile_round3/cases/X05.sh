# class: option edges
# case: --temperature 0 (sigmoid)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --temperature 0
refuse 2 'temperature' o
