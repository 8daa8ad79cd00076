# class: checkpoints: foreign, damaged, odd states
# case: rng-rank0.pt missing in the latest checkpoint
source /tmp/wh/cases/lib.sh
base
rm o2/checkpoints/step-000002/rng-rank*.pt
K RES
if [ $RC = 0 ]; then same_as_o && V handled "exact (fell back?)" || V silent-wrong "weights differ"; else refuse 2 'rng|step-000002'; fi
