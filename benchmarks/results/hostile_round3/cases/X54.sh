# class: option edges
# case: --label_noise 1.5
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --label_noise 1.5
refuse 2 'label_noise' o
