# class: option edges
# case: --tau 0 with discopop
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_type discopop --tau 0
refuse 2 'tau' o
