# class: resume with changed inputs
# case: --resume --label_noise 0.3 (stored 0)
source /tmp/wh/cases/lib.sh
base
K RES --label_noise 0.3
refuse 2 'label_noise'
