# class: option edges
# case: --clip nan
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --clip nan
refuse 2 'clip' o
