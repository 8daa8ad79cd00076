# class: option edges
# case: --epsilon 0 with exo_pair (range (0,1))
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_type exo_pair --epsilon 0
refuse 2 'epsilon' o
