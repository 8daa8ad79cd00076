# class: option edges
# case: --packed true on sdpa tiny Llama
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --packed true
grep -q "dense" key.out && ok0 "documented: warns that sdpa builds a dense mask, trains" || refuse 2 packed o
