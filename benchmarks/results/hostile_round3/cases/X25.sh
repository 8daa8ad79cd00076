# class: option edges
# case: --loss_weights negative
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types sigmoid,hinge --loss_weights 1,-0.5
refuse 2 'loss_weights|weight' o
