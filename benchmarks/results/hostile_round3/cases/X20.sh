# class: option edges
# case: --loss_types with an empty element
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types sigmoid,,hinge
if [ $RC = 0 ]; then grep -A3 "\"loss\"" o/run.json | head -3; ok0 "the empty element is dropped: trains sigmoid + hinge as listed (X64: weights)"; else refuse 2 loss_types o; fi
