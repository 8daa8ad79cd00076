# class: resume with changed inputs
# case: --reference precomputed: ref_logps.pt replaced by another run's cache (other data)
source /tmp/wh/cases/lib.sh
base --reference precomputed
TA --output_dir other --train_data d256.jsonl --max_steps 1 --reference precomputed > /dev/null 2>&1
cp other/ref_logps.pt o2/ref_logps.pt
K RES
if [ $RC = 0 ]; then same_as_o && V handled "foreign cache detected and recomputed, exact" || V silent-wrong "trained against a foreign cache"; else refuse 2 'ref_logps|cache|reference'; fi
