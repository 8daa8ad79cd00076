# class: option edges
# case: --grad_accum 3 with batch_size 4
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --grad_accum 3
refuse 2 'grad_accum|divisible' o
