# class: option edges
# case: --adam_beta1 1.0
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --adam_beta1 1.0
refuse 2 'adam_beta1' o
