# class: option edges
# case: --logging_steps 0
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --logging_steps 0
refuse 2 'logging_steps' o
