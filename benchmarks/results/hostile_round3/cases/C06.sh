# class: checkpoints: foreign, damaged, odd states
# case: latest deleted (step-1, step-2 present)
source /tmp/wh/cases/lib.sh
base
rm o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "found step-2, exact" || V silent-wrong "weights differ (restarted from step 0?)"; else refuse 2 'latest'; fi
