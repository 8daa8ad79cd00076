# class: option edges
# case: --loss_types alias and its target (dpo,logistic)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types dpo,logistic
refuse 2 'twice|duplicate|same|logistic' o
