# class: option edges
# case: --slope -0.5 with symmetric_ramp
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_type symmetric_ramp --slope -0.5
refuse 2 'slope' o
