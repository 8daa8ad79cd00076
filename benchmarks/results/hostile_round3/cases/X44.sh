# class: option edges
# case: --warmup_ratio 1.5
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --warmup_ratio 1.5
refuse 2 'warmup_ratio' o
