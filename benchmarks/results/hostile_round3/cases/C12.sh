# class: checkpoints: foreign, damaged, odd states
# case: step dir renamed step-000002 -> step-000003 (name and content disagree), latest -> it
source /tmp/wh/cases/lib.sh
base
mv o2/checkpoints/step-000002 o2/checkpoints/step-000003; printf step-000003 > o2/checkpoints/latest
K RES
rows=$(cut -d, -f1 o2/metrics.csv | paste -sd' ')
if [ $RC = 0 ]; then same_as_o && [ "$rows" = "step 1 2 3 4" ] && V handled "exact, rows $rows" || V silent-wrong "rc 0, rows $rows / weights"; else refuse 2 'step'; fi
