# class: checkpoints: foreign, damaged, odd states
# case: latest holds garbage bytes
source /tmp/wh/cases/lib.sh
base
printf '\x00\xff../../etc' > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "exact" || V silent-wrong "weights differ"; else refuse 2 'latest'; fi
