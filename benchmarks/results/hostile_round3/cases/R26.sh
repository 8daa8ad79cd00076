# class: resume with changed inputs
# case: run.json deleted before --resume
source /tmp/wh/cases/lib.sh
base
rm o2/run.json
K RES
if [ $RC = 0 ]; then same_as_o && V handled "resumed exactly (options from the checkpoint)" || V silent-wrong "weights differ"; else refuse 2 'run.json'; fi
