# class: option edges
# case: --epsilon 0.5 with rdpo (range [0,0.5))
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_type rdpo --epsilon 0.5
refuse 2 'epsilon' o
