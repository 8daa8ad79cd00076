# class: option edges
# case: --loss_types with one bad name
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types sigmoid,nope,hinge
refuse 2 'nope' o
