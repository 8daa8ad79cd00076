# class: option edges
# case: --seed 2**64
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --seed 18446744073709551616
refuse 2 'seed' o
