# class: resume with changed inputs
# case: --reference precomputed: ref_logps.pt truncated to half before --resume
source /tmp/wh/cases/lib.sh
base --reference precomputed
s=$(stat -c %s o2/ref_logps.pt); truncate -s $((s/2)) o2/ref_logps.pt
K RES
if [ $RC = 0 ]; then same_as_o && V handled "recomputed, exact" || V silent-wrong "weights differ"; else V unclear "rc $RC"; fi
