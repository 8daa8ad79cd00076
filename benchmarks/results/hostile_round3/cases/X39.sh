# class: option edges
# case: --batch_size 1e20 as int
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --batch_size 100000000000000000000
refuse 2 'batch_size' o
