# class: option edges
# case: --gamma nan with simpo
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_type simpo --gamma nan
refuse 2 'gamma' o
