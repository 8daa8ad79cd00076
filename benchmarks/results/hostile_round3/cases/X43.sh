# class: option edges
# case: --num_epochs nan (max_steps given)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --num_epochs nan
refuse 2 'num_epochs' o
