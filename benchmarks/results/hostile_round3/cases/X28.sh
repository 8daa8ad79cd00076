# class: option edges
# case: --loss_type and --loss_types together
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_type hinge --loss_types sigmoid,logistic
refuse 2 'loss_type' o
