# class: option edges
# case: --chunk_size 0
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --chunk_size 0
refuse 2 'chunk_size' o
