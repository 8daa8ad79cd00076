# class: checkpoints: foreign, damaged, odd states
# case: latest -> step-000001 while step-000002 also exists (older latest)
source /tmp/wh/cases/lib.sh
base
printf step-000001 > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "exact" || V silent-wrong "weights differ"; else V unclear "rc $RC"; fi
