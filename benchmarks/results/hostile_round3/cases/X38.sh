# class: option edges
# case: --learning_rate -1e-3
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --learning_rate -1e-3
refuse 2 'learning_rate' o
