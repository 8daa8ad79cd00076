# class: checkpoints: foreign, damaged, odd states
# case: latest names a step that does not exist
source /tmp/wh/cases/lib.sh
base
printf step-000009 > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "fell back to newest intact, exact" || V silent-wrong "weights differ"; else refuse 2 'latest|step-000009'; fi
