# class: option edges
# case: --clip with a batch loss (aot)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_type aot --clip 1
refuse 2 'clip' o
