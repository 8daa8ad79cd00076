# class: option edges
# case: --beta nan
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --beta nan
refuse 2 'beta' o
