# class: --overwrite and inputs inside the output dir
# case: --overwrite while OUT holds a precomputed cache from the other run (the cache is not reused)
source /tmp/wh/cases/lib.sh
TA --output_dir o --train_data d256.jsonl --max_steps 1 --reference precomputed > /dev/null 2>&1
K TA --output_dir o --max_steps 2 --reference precomputed --overwrite
TA --output_dir f --max_steps 2 --reference precomputed > /dev/null 2>&1
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo $m
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "same as a fresh run" || V silent-wrong "rc $RC $m"
