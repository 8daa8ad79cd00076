# class: option edges
# case: --save_total_limit -1
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --save_total_limit -1
refuse 2 'save_total_limit' o
