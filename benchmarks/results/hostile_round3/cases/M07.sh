# class: model / tokenizer mismatches
# case: --torch_dtype float16 on CPU
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 2 --torch_dtype float16
if [ $RC = 0 ]; then l=$(tail -1 o/metrics.csv | cut -d, -f4); echo "loss $l"; case $l in *nan*|'') V silent-wrong "loss $l";; *) V handled "trains in fp16 on CPU, loss $l";; esac; else refuse 2 'float16|dtype' o; fi
