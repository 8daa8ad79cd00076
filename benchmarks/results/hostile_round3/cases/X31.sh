# class: option edges
# case: --clip with a list holding a batch loss
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types logistic,aot --clip 1
refuse 2 'clip' o
