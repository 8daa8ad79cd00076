# class: resume with changed inputs
# case: --resume --loss_type logistic (stored sigmoid)
source /tmp/wh/cases/lib.sh
base
K RES --loss_type logistic
refuse 2 'loss_type'
