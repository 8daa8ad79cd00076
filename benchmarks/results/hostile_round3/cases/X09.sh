# class: option edges
# case: --epsilon 1.0000001 with cdpo
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_type cdpo --epsilon 1.0000001
refuse 2 'epsilon' o
