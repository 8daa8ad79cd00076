# class: option edges
# case: --batch_size 32 with 16 pairs (no full batch)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --batch_size 32
refuse 2 'batch_size|pairs|batch' o
