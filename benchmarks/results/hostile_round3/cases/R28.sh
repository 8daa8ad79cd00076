# class: resume with changed inputs
# case: metrics.csv deleted before --resume (do metrics continue?)
source /tmp/wh/cases/lib.sh
base
rm o2/metrics.csv
K RES
rows=$(cut -d, -f1 o2/metrics.csv 2>/dev/null | paste -sd' ')
echo "rows: $rows"
if [ $RC = 0 ]; then same_as_o && V handled "exact; metrics.csv rows: $rows" || V silent-wrong "weights differ"; else V unclear "rc $RC"; fi
