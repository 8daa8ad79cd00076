# class: checkpoints: foreign, damaged, odd states
# case: checkpoints/ emptied (run.json and metrics.csv remain)
source /tmp/wh/cases/lib.sh
base
rm -rf o2/checkpoints/*
K RES
rows=$(cut -d, -f1 o2/metrics.csv | paste -sd' ')
if [ $RC = 0 ]; then same_as_o && V handled "restarted from 0 with a message? rows: $rows" || V silent-wrong "weights differ; rows $rows"; else V unclear "rc $RC"; fi
