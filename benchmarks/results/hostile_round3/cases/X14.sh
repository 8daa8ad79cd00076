# class: option edges
# case: --clip 0
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --clip 0
refuse 2 'clip' o
