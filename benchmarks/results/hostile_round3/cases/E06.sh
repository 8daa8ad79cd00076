# class: extend a finished run
# case: --resume --num_epochs 0.5 on a run of 1 epoch (shorter)
source /tmp/wh/cases/lib.sh
TA --output_dir o --num_epochs 1 > /dev/null 2>&1
K TA --output_dir o --num_epochs 0.5 --resume
refuse 2 'shorter|num_epochs|reached'
