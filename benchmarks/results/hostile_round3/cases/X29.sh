# class: option edges
# case: --temperature with --loss_types logistic,hinge (no sigmoid)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types logistic,hinge --temperature 2
refuse 2 'temperature' o
