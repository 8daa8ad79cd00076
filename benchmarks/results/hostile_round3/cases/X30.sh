# class: option edges
# case: --epsilon with a list where 2 losses take it with different ranges (cdpo,rdpo eps 0.7)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types cdpo,rdpo --epsilon 0.7
refuse 2 'epsilon' o
