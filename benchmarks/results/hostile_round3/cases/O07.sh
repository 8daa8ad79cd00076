# class: --overwrite and inputs inside the output dir
# case: --overwrite and --resume together
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 1 > /dev/null 2>&1
K TA --output_dir o --max_steps 2 --overwrite --resume
refuse 2 'overwrite|resume'
