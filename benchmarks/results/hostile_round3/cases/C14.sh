# class: checkpoints: foreign, damaged, odd states
# case: leftover .tmp-step-000003 (half-written checkpoint) present
source /tmp/wh/cases/lib.sh
base
cp -r o/checkpoints/step-000003 o2/checkpoints/.tmp-step-000003; rm o2/checkpoints/.tmp-step-000003/manifest.json
K RES
if [ $RC = 0 ]; then same_as_o && [ ! -e o2/checkpoints/.tmp-step-000003 ] && V handled "cleaned, exact" || V silent-wrong "weights or leftover"; else V unclear "rc $RC"; fi
