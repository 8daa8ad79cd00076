# class: resume with changed inputs
# case: metrics.csv holds a row cut short by a kill plus a garbage line
source /tmp/wh/cases/lib.sh
base
printf '3,train,0.75,0.49' >> o2/metrics.csv
K RES
rows=$(cut -d, -f1 o2/metrics.csv | paste -sd' ')
if [ $RC = 0 ] && [ "$rows" = "step 1 2 3 4" ]; then V handled "rows $rows"; else V silent-wrong "rc $RC rows: $rows"; fi
