# class: model / tokenizer mismatches
# case: --gradient_checkpointing on the tiny Llama: same parameters as without
source /tmp/wh/cases/lib.sh
TA --output_dir f --max_steps 2 > /dev/null 2>&1
K TA --gradient_checkpointing --output_dir o --max_steps 2
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo $m
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "identical" || V silent-wrong "rc $RC $m"
