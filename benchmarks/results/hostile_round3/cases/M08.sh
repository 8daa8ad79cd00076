# class: model / tokenizer mismatches
# case: --torch_dtype bfloat16 on CPU with --precision fp32
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 2 --torch_dtype bfloat16 --precision fp32
if [ $RC = 0 ]; then V handled "ran (bf16 weights)"; else refuse 2 'bfloat16|dtype|precision' o; fi
