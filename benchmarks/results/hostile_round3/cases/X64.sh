# class: option edges
# case: --loss_types sigmoid,,hinge --loss_weights 1,2,3 (empty element: which weight goes where?)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types sigmoid,,hinge --loss_weights 1,2,3
refuse 2 'loss_types|loss_weights|empty' o
