# class: resume with changed inputs
# case: --resume --seed 1 (stored 0)
source /tmp/wh/cases/lib.sh
base
K RES --seed 1
refuse 2 'seed'
