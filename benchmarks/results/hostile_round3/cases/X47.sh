# class: option edges
# case: --adam_eps 0
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --adam_eps 0
refuse 2 'adam_eps' o
