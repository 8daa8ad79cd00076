# class: resume with changed inputs
# case: --reference precomputed: ref_logps.pt deleted before --resume (exact?)
source /tmp/wh/cases/lib.sh
base --reference precomputed
rm -f o2/ref_logps.pt
K RES
if [ $RC = 0 ]; then same_as_o && V handled "recomputed, exact" || V silent-wrong "weights differ from uninterrupted"; else V unclear "rc $RC"; fi
