# class: extend a finished run
# case: extend with a learning-rate change at the same time (--learning_rate 1e-3)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --learning_rate 1e-3 --resume
refuse 2 'learning_rate'
