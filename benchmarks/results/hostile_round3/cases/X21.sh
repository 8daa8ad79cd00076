# class: option edges
# case: --loss_types a name twice
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types sigmoid,hinge,sigmoid
refuse 2 'twice|duplicate|sigmoid' o
