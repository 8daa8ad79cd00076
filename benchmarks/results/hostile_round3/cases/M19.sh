# class: model / tokenizer mismatches
# case: --lora_r 4 then --merge_lora: merged model loads and differs from the base
source /tmp/wh/cases/lib.sh
K TA --lora_r 4 --merge_lora --learning_rate 1e-2 --output_dir o --max_steps 2
m=$(cmpw model o/final/merged 2>&1 | grep -o 'MAXDIFF=[^ ]*'); echo "base vs merged: $m"
[ $RC = 0 ] && [ -e o/final/adapter_config.json ] && [ "$m" != "MAXDIFF=0.0" ] && V handled "adapter + merged written" || V unclear "rc $RC $m"
