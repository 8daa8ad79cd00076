# class: extend a finished run
# case: --resume --max_steps 3 on a run that reached 4 (shorter)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 3 --resume
refuse 2 'shorter|max_steps|reached'
