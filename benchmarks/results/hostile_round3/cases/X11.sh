# class: option edges
# case: --alpha 0 with ropo
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_type ropo --alpha 0
refuse 2 'alpha' o
