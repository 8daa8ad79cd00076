# class: option edges
# case: --max_length 1
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --max_length 1
refuse 2 'max_length' o
