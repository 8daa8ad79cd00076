# class: model / tokenizer mismatches
# case: --precision bf16 on a CPU-only machine
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --precision bf16
if [ $RC = 0 ]; then V handled "ran (bf16 autocast on CPU)"; else refuse 2 'bf16|precision' o; fi
